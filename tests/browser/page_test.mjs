// The built-in page (GET /) in headless Chromium (Debian's, driven by puppeteer-core pinned in
// package.json) against two live `ladle serve`s: the 15M synthetic model (slow enough to watch an
// answer stream, stop it and reload in the middle of it) and the trained stories260K with a
// tokenizer rewritten so that its stories carry CJK and emoji. Checks:
//   - the page loads with no console error and no CSP violation, under its strict CSP (which
//     really blocks an inline script);
//   - an answer streams progressively: its first text is painted well before its last token
//     arrives, and the painted text equals the server's non-streamed answer (multi-byte intact);
//   - the page's SSE reader keeps characters whole when the bytes arrive one at a time;
//   - Stop frees the request's KV at once (chat: the fetch is aborted; background: cancelled);
//   - a reload in background mode resumes from the last painted sequence number, and the final
//     text equals an uninterrupted answer;
//   - WebSocket mode answers and stops (only when the server has GET /v1/realtime; else skipped);
//   - the telemetry arrives in /metrics (ladle_client_*), and ?telemetry=0 sends none;
//   - against a server with --api-key the page asks for the key, then answers over SSE and the
//     WebSocket (the key as its subprotocol) and its telemetry is accepted.
// A screenshot of a finished answer goes to OUTPUT_DIR/page_answer.png.
// Usage: node page_test.mjs LADLE_BINARY MODELS_DIR OUTPUT_DIR (MODELS_DIR holds stories260K.bin
// and tok512.bin)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { launchBrowser, makeModel, metric, metrics, multibyteTokenizer, openPage, startServer, waitFor }
  from './harness.mjs';

const [ladle, modelsDir, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node page_test.mjs LADLE_BINARY MODELS_DIR OUTPUT_DIR');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 150_000).unref();
mkdirSync(outDir, { recursive: true });
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'ladle-page-'));
const { model, tokenizer } = makeModel(ladle, work, 2304);
const { child, url } = await startServer(ladle, ['--model', model, '--tokenizer', tokenizer]);
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
const stories = await startServer(ladle, ['--model', join(modelsDir, 'stories260K.bin'),
  '--tokenizer', multibyteTokenizer(join(modelsDir, 'tok512.bin'), work)]);
const browser = await launchBrowser(puppeteer);
const errors = [];

async function check(name, fn) {
  const t = Date.now();
  await fn();
  console.log(`ok - ${name} (${Date.now() - t} ms)`);
}

// Clears the conversation and sends `text` over `transport` (greedy); returns the new answer's index.
async function ask(page, text, transport, maxTokens) {
  await page.select('#transport', transport);
  await page.$eval('#max-tokens', (e, v) => { e.value = String(v); }, maxTokens);
  await page.click('#clear');
  const index = await page.evaluate(() => window.ladle.answers.length);
  await page.$eval('#prompt', (e, v) => { e.value = v; }, text);
  await page.click('#send');
  return index;
}

async function answer(page, i) {
  return page.evaluate((i) => {
    const a = window.ladle.answers[i];
    return a && { id: a.id, text: a.text, dom: a.textEl.textContent, status: a.status, s: a.figures.summary(),
      samples: a.figures.renderDelays.length };
  }, i);
}

const finished = (page, i, ms = 30_000) =>
  waitFor(async () => { const a = await answer(page, i); return a && a.status !== 'streaming' && a; }, ms, `answer ${i}`);
const arrived = (page, i, n) =>
  waitFor(async () => { const a = await answer(page, i); return a && a.s.arrivals >= n && a; }, 20_000, `${n} arrivals`);

// Stop after a few tokens; the server must end the request (finished{reason="cancelled"}) and hold
// no KV block within a second. The answer asked for is long (2,000 tokens, ten seconds or more
// here), so that it cannot end by itself before a page slowed by a busy machine clicks Stop: with
// 240 tokens it sometimes did.
async function stopFreesKv(page, transport) {
  const cancelled = await metric(url, 'ladle_requests_finished_total{reason="cancelled"}');
  const i = await ask(page, 'Once upon a time', transport, 2000);
  await arrived(page, i, 5);
  const t = Date.now();
  await page.click('#stop');
  await waitFor(async () => {
    const m = await metrics(url);
    return m.get('ladle_requests_finished_total{reason="cancelled"}') === cancelled + 1 &&
      m.get('ladle_kv_cache_blocks_used') === 0 && m.get('ladle_num_requests_running') === 0;
  }, 2000, `a cancelled finish and no KV block in use after Stop (${transport})`);
  const a = await finished(page, i);
  assert.equal(a.status, 'cancelled');
  assert.ok(a.s.arrivals < 1000, `stopped before the end (${a.s.arrivals} arrivals of 2,000 tokens)`);
  return Date.now() - t;
}

try {
  const { page, response } = await openPage(browser, `${url}/`, errors);

  await check('GET / serves the page with its CSP; it loads clean', async () => {
    const h = response.headers();
    assert.match(h['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/);
    assert.equal(h['x-content-type-options'], 'nosniff');
    await waitFor(() => page.$eval('#model', (e) => e.textContent === 'm15.bin'), 5000, 'the state panel');
    assert.deepEqual(errors, []);
    assert.deepEqual(await page.evaluate(() => window.ladle.cspViolations), []);
  });

  const before = await metrics(url);
  let streamed;
  await check('an answer streams progressively: first paint well before the last token', async () => {
    const a = streamed = await finished(page, await ask(page, 'Once upon a time', 'chat', 200));
    assert.equal(a.status, 'length');
    assert.equal(a.dom, a.text, 'the DOM holds exactly the painted text');
    assert.ok(a.s.arrivals >= 20, `arrived in pieces (${a.s.arrivals})`);
    const lead = a.s.lastArrival - a.s.firstPaintAt;
    const life = a.s.lastArrival - (a.s.firstPaintAt - a.s.firstPaint);
    console.log(`  first paint ${a.s.firstPaint.toFixed(1)} ms, ${lead.toFixed(0)} ms before the last token ` +
                `(request ${life.toFixed(0)} ms); server TTFT ${a.s.serverTtft} ms`);
    assert.ok(lead >= 200 && lead > life / 2, 'the first text is painted in the first half of the answer');
    assert.ok(a.s.serverTtft > 0 && a.s.serverTtft <= a.s.firstPaint, 'the server said its TTFT');
  });

  await check('the telemetry of that answer arrives in /metrics', async () => {
    assert.equal(await page.evaluate(() => window.ladle.answers.at(-1).reported), true);
    const after = await metrics(url);
    const d = (k) => after.get(k) - before.get(k);
    assert.equal(d('ladle_client_first_paint_seconds_count'), 1);
    assert.ok(Math.abs(d('ladle_client_first_paint_seconds_sum') - streamed.s.firstPaint / 1000) < 0.001);
    assert.equal(d('ladle_client_render_delay_seconds_count'), Math.min(streamed.samples, 512));
    assert.equal(d('ladle_client_telemetry_reports_total{result="accepted"}'), 1);
  });

  await check('the SSE reader keeps characters whole when bytes arrive one at a time', async () => {
    const text = 'Ünïcode 猫と雨 🙂🚀 done';
    const got = await page.evaluate(async (text) => {
      const { readEvents } = await import('/page/sse.js');
      const bytes = new TextEncoder().encode(`data: ${text}\n\n: server-ttft-ms 1.5\ndata: ${text}\n\n`);
      let i = 0;
      const body = new ReadableStream({ pull(c) { if (i < bytes.length) c.enqueue(bytes.slice(i, ++i)); else c.close(); } });
      const data = [];
      for await (const ev of readEvents(body)) data.push(ev.data);
      return data;
    }, text);
    assert.deepEqual(got, [text, text]);
  });

  await check('multi-byte text (CJK, emoji) renders intact', async () => {
    const other = await openPage(browser, `${stories.url}/`, errors);
    const reference = await (await fetch(`${stories.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 200, temperature: 0 }),
    })).json();
    const a = await finished(other.page, await ask(other.page, 'Once upon a time', 'chat', 200));
    assert.equal(a.text, reference.choices[0].message.content, 'the painted text is the server\'s answer');
    assert.equal(a.dom, a.text);
    assert.ok([...a.text].filter((c) => c.codePointAt(0) > 0x2e80).length >= 10, 'CJK and emoji in the answer');
    await other.page.screenshot({ path: join(outDir, 'page_answer.png') });
    await other.page.close();
  });

  await check('Stop frees the KV of a chat answer (aborted fetch)', async () => {
    console.log(`  freed ${await stopFreesKv(page, 'chat')} ms after Stop`);
  });
  await check('Stop cancels a background answer', async () => {
    console.log(`  freed ${await stopFreesKv(page, 'responses')} ms after Stop`);
  });

  await check('a reload mid-answer (background mode) resumes to the same final text', async () => {
    const i = await ask(page, 'Tell me about the sea', 'responses', 200);
    const { id } = await arrived(page, i, 15);
    // Reload once the page has painted (and so remembered) a dozen deltas.
    const pending = await waitFor(() => page.evaluate(() => {
      const p = JSON.parse(sessionStorage.getItem('ladle.pending'));
      return p?.after >= 12 && p;
    }), 5000, 'the painted sequence number');
    const resumes = await metric(url, 'ladle_background_resumes_total');
    await page.reload({ waitUntil: 'load' });
    const after = await finished(page, 0);
    // The response ran on, uninterrupted, on the server: its own final text is the reference.
    const snapshot = await (await fetch(`${url}/v1/responses/${id}`)).json();
    assert.equal(snapshot.status, 'incomplete');
    const whole = { text: snapshot.output[0].content[0].text };
    assert.ok(pending.after > 0 && pending.text.length > 0, 'painted text was remembered with its sequence number');
    assert.ok(pending.text.length < whole.text.length && whole.text.startsWith(pending.text), 'reloaded mid-answer');
    assert.equal(after.text, whole.text, 'the resumed answer ends as the uninterrupted one');
    assert.equal(after.dom, whole.text);
    assert.equal(await metric(url, 'ladle_background_resumes_total'), resumes + 1);
    console.log(`  reloaded after ${pending.text.length} of ${whole.text.length} characters (sequence ${pending.after})`);
  });

  const realtime = await fetch(`${url}/v1/realtime`);
  if (realtime.status === 404) {
    console.log('skip - WebSocket mode: this server has no GET /v1/realtime');
  } else {
    await check('WebSocket mode answers as chat completions do', async () => {
      const reference = await (await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 60, temperature: 0 }),
      })).json();
      const a = await finished(page, await ask(page, 'Tell me a story', 'realtime', 60));
      assert.equal(a.status, 'incomplete');
      assert.ok(a.s.arrivals > 10, `streamed (${a.s.arrivals} arrivals)`);
      assert.equal(a.text, reference.choices[0].message.content);
      assert.equal(a.dom, a.text);
    });
    await check('Stop over the WebSocket frees KV (response.cancel)', async () => {
      console.log(`  freed ${await stopFreesKv(page, 'realtime')} ms after Stop`);
    });
  }

  await check('?telemetry=0 sends no telemetry', async () => {
    const quiet = await openPage(browser, `${url}/?telemetry=0`, errors);
    const count = await metric(url, 'ladle_client_first_paint_seconds_count');
    const a = await finished(quiet.page, await ask(quiet.page, 'Once upon a time', 'chat', 10));
    assert.equal(a.status, 'length');
    assert.equal(await quiet.page.evaluate(() => window.ladle.answers[0].reported), false);
    assert.equal(await metric(url, 'ladle_client_first_paint_seconds_count'), count);
    await quiet.page.close();
  });

  await check('with --api-key: the page asks for the key, then answers and reports', async () => {
    const keyed = await startServer(ladle, ['--model', join(modelsDir, 'stories260K.bin'),
      '--tokenizer', join(modelsDir, 'tok512.bin')], { LADLE_API_KEY: 'sk-page-test' });
    const loadErrors = [];  // the page's 401s before it has the key are expected here
    try {
      const { page: p } = await openPage(browser, `${keyed.url}/`, loadErrors);
      await waitFor(() => p.$eval('#model', (e) => e.textContent === 'API key needed'), 5000, 'the panel\'s 401');
      await p.$eval('#prompt', (e) => { e.value = 'Once upon a time'; });
      await p.click('#send');
      await waitFor(() => p.evaluate(() => document.getElementById('key-dialog').open), 5000, 'the key dialog');
      await p.type('#key-input', 'sk-page-test');
      await p.click('#key-ok');
      assert.equal((await finished(p, 0)).status, 'length');
      assert.equal(await p.evaluate(() => window.ladle.answers[0].reported), true);
      assert.equal(await metric(keyed.url, 'ladle_client_first_paint_seconds_count'), 1);
      if (realtime.status !== 404) {
        const ws = await finished(p, await ask(p, 'Once upon a time', 'realtime', 40));
        assert.equal(ws.status, 'incomplete');
      }
      assert.ok(loadErrors.every((e) => /status of 401/.test(e)), loadErrors.join('; '));
      await p.close();
    } finally {
      keyed.child.kill('SIGTERM');
    }
  });

  await check('no console errors, no CSP violations; the CSP blocks inline script', async () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(await page.evaluate(() => window.ladle.cspViolations), []);
    const ran = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.inlineRan = true';
      document.body.append(s);
      return window.inlineRan === true;
    });
    assert.equal(ran, false);
    await waitFor(() => page.evaluate(() => window.ladle.cspViolations.length === 1), 2000, 'the violation report');
  });
} finally {
  await browser.close();
  child.kill('SIGTERM');
  stories.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
const { code } = await exited;
assert.equal(code, 0, 'ladle serve exits 0 on SIGTERM');
console.log(`ok - all (${((Date.now() - started) / 1000).toFixed(1)} s)`);
