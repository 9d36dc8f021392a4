// The built-in page in headless Chromium while 8 other streaming clients load the server (15M
// synthetic shape): per answer, the browser's first-paint TTFT minus the server's TTFT for the
// same request (ladle's ": server-ttft-ms" comment), and every chunk's render delay (arrival →
// paint), for the page's frame-buffered renderer and for a naive `textContent +=` per token
// (naive_renderer.mjs), alternating answer by answer so both see the same load.
//
// Usage: node bench/page/page_bench.mjs build/ladle [ROUNDS=20] [MAX_TOKENS=100] [LOAD=8] [MODEL TOKENIZER]
// (MODEL TOKENIZER: another checkpoint instead of the 15M synthetic one, e.g. the fast stories260K,
// whose tokens arrive several per frame.) Needs `npm ci --prefix tests/browser` (puppeteer-core) and
// chromium; writes build/page_bench.json with every sample.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, makeModel, openPage, startServer, waitFor } from '../../tests/browser/harness.mjs';
import { installNaiveRenderer } from './naive_renderer.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const puppeteer = createRequire(join(root, 'tests/browser/package.json'))('puppeteer-core');
const [ladle = join(root, 'build/ladle'), rounds = '20', maxTokens = '100', loadClients = '8', ...modelArgs] =
  process.argv.slice(2);

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : NaN;
};

const work = mkdtempSync(join(tmpdir(), 'ladle-page-bench-'));
const { model, tokenizer } = modelArgs.length === 2 ? { model: modelArgs[0], tokenizer: modelArgs[1] }
  : makeModel(ladle, work);
const { child, url } = await startServer(ladle, ['--model', model, '--tokenizer', tokenizer]);
const load = Number(loadClients) > 0 ? spawn(ladle, ['bench', '--url', url, '--endpoint', '/v1/chat/completions',
  '--concurrency', loadClients, '--num-requests', '1000000', '--duration', '3600', '--output-len', '200',
  '--ignore-eos'], { stdio: 'ignore' }) : null;
await new Promise((r) => setTimeout(r, 3000));  // the load's streams are running
const browser = await launchBrowser(puppeteer);
const errors = [];
const variants = { frame: (await openPage(browser, `${url}/?telemetry=0`, errors)).page,
  naive: (await openPage(browser, `${url}/?telemetry=0`, errors)).page };
await variants.naive.evaluate(installNaiveRenderer);
const samples = { frame: [], naive: [] };

async function answerOnce(page) {
  await page.select('#transport', 'chat');
  await page.$eval('#max-tokens', (e, v) => { e.value = v; }, maxTokens);
  await page.click('#clear');
  const i = await page.evaluate(() => window.ladle.answers.length);
  await page.$eval('#prompt', (e) => { e.value = 'Once upon a time'; });
  await page.click('#send');
  return waitFor(() => page.evaluate((i) => {
    const a = window.ladle.answers[i];
    if (!a || a.status === 'streaming') return null;
    const s = a.figures.summary();
    return { status: a.status, firstPaint: s.firstPaint, serverTtft: s.serverTtft, renderDelays: a.figures.renderDelays,
      arrivals: s.arrivals };
  }, i), 120_000, 'an answer');
}

try {
  for (let r = 0; r < Number(rounds); r++) {
    const order = Object.entries(variants);
    if (r % 2) order.reverse();  // neither variant always goes first
    for (const [name, page] of order) {
      // Each tab takes its turn in front: a background tab gets no animation frames.
      await page.bringToFront();
      samples[name].push(await answerOnce(page));
    }
    process.stderr.write(`\rround ${r + 1}/${rounds}`);
  }
  process.stderr.write('\n');
} finally {
  await browser.close();
  load?.kill('SIGTERM');
  child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

const f = (v) => v.toFixed(1);
console.log(`| renderer | answers | chunks | first paint p50 | server TTFT p50 | paint lag p50 | paint lag p99 | ` +
            `render delay p50 | render delay p99 |`);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [name, xs] of Object.entries(samples)) {
  const lag = xs.map((x) => x.firstPaint - x.serverTtft);
  const delays = xs.flatMap((x) => x.renderDelays);
  console.log(`| ${name} | ${xs.length} | ${delays.length} | ${f(percentile(xs.map((x) => x.firstPaint), 50))} | ` +
    `${f(percentile(xs.map((x) => x.serverTtft), 50))} | ${f(percentile(lag, 50))} | ${f(percentile(lag, 99))} | ` +
    `${f(percentile(delays, 50))} | ${f(percentile(delays, 99))} |`);
}
if (errors.length) console.log(`console errors: ${errors.join('; ')}`);
writeFileSync(join(root, 'build', 'page_bench.json'), JSON.stringify(samples));
