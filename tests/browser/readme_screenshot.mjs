// Makes the README's screenshot of the page (docs/page.png): stories260K answering while twelve
// other streams keep the server-state panel busy.
// Usage: node tests/browser/readme_screenshot.mjs build/ladle ../shared/models docs/page.png
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { launchBrowser, openPage, startServer, waitFor } from './harness.mjs';

const [ladle, modelsDir, out] = process.argv.slice(2);
const { child, url } = await startServer(ladle, ['--model', join(modelsDir, 'stories260K.bin'),
  '--tokenizer', join(modelsDir, 'tok512.bin')]);
const load = spawn(ladle, ['bench', '--url', url, '--endpoint', '/v1/chat/completions', '--concurrency', '12',
  '--num-requests', '100000', '--duration', '600', '--output-len', '400', '--ignore-eos'], { stdio: 'ignore' });
const browser = await launchBrowser(puppeteer);
try {
  const { page } = await openPage(browser, `${url}/`, []);
  await page.setViewport({ width: 1000, height: 640 });
  await new Promise((r) => setTimeout(r, 8000));  // the sparkline fills
  await page.$eval('#prompt', (e) => { e.value = 'Once upon a time'; });
  await page.$eval('#max-tokens', (e) => { e.value = '120'; });
  await page.click('#send');
  await waitFor(() => page.evaluate(() => window.ladle.answers[0]?.status === 'length'), 30_000, 'the answer');
  await new Promise((r) => setTimeout(r, 600));
  await page.screenshot({ path: out });
} finally {
  await browser.close();
  load.kill('SIGTERM');
  child.kill('SIGTERM');
}
