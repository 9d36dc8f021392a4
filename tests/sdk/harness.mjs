// Shared by the SDK tests (anthropic_sdk_test.mjs, openai_responses_sdk_test.mjs): starting
// `ladle serve`, reading /metrics, a synthetic model slow enough to cancel, and the `ok - name`
// report. Each server is killed when the test process exits, however it exits.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// Starts `ladle serve` on a free port with extra flags (and LADLE_API_KEY when apiKey is set);
// resolves with { child, url } once it says it is listening and ready.
// (A GGUF model carries its own tokenizer: leave `tokenizer` out.)
export function startServer(ladle, { model, tokenizer, apiKey = '', flags = [] }) {
  const tok = tokenizer ? ['--tokenizer', tokenizer] : [];
  const child = spawn(ladle, ['serve', '--model', model, ...tok, '--port', '0', ...flags],
                      { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, LADLE_API_KEY: apiKey } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let log = '', url = null;
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      log += d;
      url ??= log.match(/listening on (http:\/\/[0-9.]+:\d+)/)?.[1];
      if (url && /ready/.test(log)) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`ladle serve ${flags.join(' ')} exited early (${code})`)));
  });
}

// `ladle serve` on a random-weight 15M-shaped model with a long context (made in a temporary
// directory removed at exit), one compute thread and a small KV cache: ~60x stories260K's work
// per token, so that a 2000-token request is still running seconds later, when a test cancels it.
// Resolves with { child, url, model } (model: the name the server gives it).
export async function startSlowServer(ladle, apiKey = '') {
  const dir = mkdtempSync(join(tmpdir(), 'ladle-sdk-'));
  tempDirs.add(dir);
  const model = join(dir, 'm15.bin'), tokenizer = join(dir, 'tok15.bin');
  execFileSync(ladle, ['make-model', '--preset', '15m', '--seq-len', '2304', '--out', model, '--tokenizer-out', tokenizer],
               { stdio: ['ignore', 'ignore', 'inherit'] });
  const server = await startServer(ladle, { model, tokenizer, apiKey, flags: ['--threads', '1', '--kv-cache-mb', '64'] });
  return { ...server, model: 'm15.bin' };
}

// The value of one sample of /metrics: `name` is the metric with its labels as printed, e.g.
// 'ladle_requests_finished_total{reason="cancelled"}'.
export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} missing from /metrics`);
  return Number(line.split(' ').at(-1));
}

// Polls /metrics until every sample in `want` ({ name: value }) holds or the deadline passes;
// returns the last values read (to compare with `want` in an assertion).
export async function waitForMetrics(url, want, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = {};
    for (const name of Object.keys(want)) got[name] = await metric(url, name);
    if (Object.keys(want).every((k) => got[k] === want[k]) || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const CANCELLED = 'ladle_requests_finished_total{reason="cancelled"}';
export const RUNNING = 'ladle_num_requests_running';
export const KV_USED = 'ladle_kv_cache_blocks_used';

let failures = 0;
// Runs one check: prints `ok - name`, or `not ok - name` with the error and goes on (so that one
// failure does not hide the others); the process exits non-zero if any failed (see finish()).
export async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}`);
    console.error(e);
  }
}

export function skip(name, why) { console.log(`skip - ${name} (${why})`); }

export function finish() {
  if (failures) {
    console.error(`FAIL: ${failures} check(s) failed`);
    process.exit(1);
  }
}
