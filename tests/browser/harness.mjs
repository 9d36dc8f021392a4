// What the browser test (and the page bench) need around the page: a model, a `ladle serve` on a
// free port, /metrics readings, and headless Chromium with every console error collected.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Writes the 15M synthetic model (`ladle make-model --preset 15m`) into `dir`: slow enough on two
// cores that an answer of 200 tokens takes a second or more. (Its random weights make greedy
// decoding repeat the prompt's last token: fine for timing, useless for content.) `seqLen` sets
// its context (the preset's is 256).
export function makeModel(ladle, dir, seqLen = 256) {
  const model = join(dir, 'm15.bin');
  const tokenizer = join(dir, 'tok15.bin');
  execFileSync(ladle, ['make-model', '--preset', '15m', '--seq-len', String(seqLen), '--out', model,
                       '--tokenizer-out', tokenizer],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return { model, tokenizer };
}

// A copy of the llama2.c tokenizer `source` in `dir` in which every third piece past id 400 ends
// in a CJK character or an emoji: a trained model (stories260K) then tells its usual stories in
// multi-byte text (2-, 3- and 4-byte UTF-8).
export function multibyteTokenizer(source, dir) {
  const path = join(dir, 'multibyte-tokenizer.bin');
  copyFileSync(source, path);
  rewriteTokenizer(path);
  return path;
}

// llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32 length,
// bytes.
function rewriteTokenizer(path) {
  const input = readFileSync(path);
  const extras = ['猫', '語', '雨', '🙂', '🚀', '海', '🍜', 'é'];
  const parts = [];
  let offset = 4;
  let longest = 0;
  for (let id = 0; offset < input.length; id++) {
    const score = input.subarray(offset, offset + 4);
    const len = input.readInt32LE(offset + 4);
    let piece = input.subarray(offset + 8, offset + 8 + len);
    offset += 8 + len;
    if (id >= 400 && id % 3 === 0) piece = Buffer.concat([piece, Buffer.from(extras[(id / 3) % extras.length])]);
    const head = Buffer.alloc(8);
    score.copy(head, 0);
    head.writeInt32LE(piece.length, 4);
    parts.push(head, piece);
    longest = Math.max(longest, piece.length);
  }
  const header = Buffer.alloc(4);
  header.writeInt32LE(Math.max(longest, input.readInt32LE(0)));
  writeFileSync(path, Buffer.concat([header, ...parts]));
}

// Starts `ladle serve` on a free port; resolves with {child, url} once it is ready.
export function startServer(ladle, args, env = {}) {
  const child = spawn(ladle, ['serve', '--port', '0', ...args],
    { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let log = '';
    let url = null;
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      log += d;
      url ??= log.match(/listening on (http:\/\/[0-9.]+:\d+)/)?.[1];
      if (url && /ready/.test(log)) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`ladle serve exited early (${code})`)));
  });
}

// Every sample of /metrics as a map from series (name with labels) to value.
export async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export async function metric(url, series) {
  const value = (await metrics(url)).get(series);
  assert.ok(value !== undefined, `${series} missing from /metrics`);
  return value;
}

// Polls `probe` (async, truthy when done) every 20 ms for up to `ms`.
export async function waitFor(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Headless Chromium (Debian's) through puppeteer-core.
export async function launchBrowser(puppeteer) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

// A page whose console errors, uncaught exceptions and failed loads go into `errors`.
export async function openPage(browser, url, errors) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 860, deviceScaleFactor: 1 });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const response = await page.goto(url, { waitUntil: 'load' });
  return { page, response };
}
