// The official OpenAI Node SDK's Files and Batches API (the `openai` package pinned in
// package.json) against a live `ladle serve` on the trained stories260K with its own --data-dir.
// Checks, through the SDK's own calls, pagers and error classes:
//   - files.create of a JSONL mixing completions and chat lines with one invalid body: a chat batch
//     of it fails in validation, its errors naming the lines (the completions lines' url, the bad
//     body);
//   - files.create of a chat and a completions JSONL, batches.create, batches.retrieve until
//     completed (request_counts exact, timestamps set), files.content parsed back: one line per
//     request, each body exactly the non-streamed reply of the same request made directly (greedy
//     chat lines, sampled completions lines with a seed);
//   - batches.cancel mid-way: cancelling, then cancelled; the finished lines in the output file,
//     the rest in the error file (batch_cancelled), every line exactly once; cancelling again is a
//     ConflictError;
//   - batches.list's auto-pager with limit 2 walks every batch once, newest first; files.list,
//     retrieve and del; unknown ids are NotFoundError, bad parameters BadRequestError, an upload
//     over --max-file-mb a 413.
// Usage: node openai_batch_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { startServer, metric, check, finish } from './harness.mjs';

const [ladle, model, tokenizer] = process.argv.slice(2);
if (!tokenizer) {
  console.error('usage: node openai_batch_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 100_000).unref();

const dataDir = mkdtempSync(join(tmpdir(), 'ladle-batch-sdk-'));
const { child, url } = await startServer(ladle, {
  model, tokenizer, flags: ['--data-dir', dataDir, '--batch-max-in-flight', '2', '--max-file-mb', '1', '--threads', '1'],
});
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
const jsonl = (lines) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const upload = async (name, text) => client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(id, done, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (done(b)) return b;
    assert.ok(Date.now() < deadline, `batch ${id} stuck in ${b.status}: ${JSON.stringify(b.request_counts)}`);
    await sleep(20);
  }
}
const lines = (text) => text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
const chat = (i) => ({ model: 'stories260K.bin', messages: [{ role: 'user', content: `Tell a story ${i}` }], max_tokens: 24, temperature: 0 });
const completion = (i) => ({ model: 'stories260K.bin', prompt: `Once upon a time ${i}`, max_tokens: 24, temperature: 0.9, seed: 100 + i });
const created = [];

await check('a mixed file with an invalid line fails validation, naming its lines', async () => {
  const file = await upload('mixed.jsonl', jsonl([
    { custom_id: 'c1', method: 'POST', url: '/v1/chat/completions', body: chat(1) },
    { custom_id: 'p1', method: 'POST', url: '/v1/completions', body: completion(1) },
    { custom_id: 'c2', method: 'POST', url: '/v1/chat/completions', body: { ...chat(2), temperature: 'hot' } },
    { custom_id: 'c3', method: 'POST', url: '/v1/chat/completions', body: chat(3) },
  ]));
  assert.equal(file.object, 'file');
  assert.equal(file.purpose, 'batch');
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  created.push(batch.id);
  assert.equal(batch.status, 'validating');
  const failed = await until(batch.id, (b) => b.status !== 'validating');
  assert.equal(failed.status, 'failed');
  assert.equal(typeof failed.failed_at, 'number');
  assert.deepEqual(failed.errors.data.map((e) => [e.line, e.code]), [[2, 'mismatched_url'], [3, 'invalid_request']]);
  assert.match(failed.errors.data[1].message, /temperature/);
  assert.equal(failed.output_file_id, null);
});

for (const [endpoint, body, direct] of [
  ['/v1/chat/completions', chat, async (b) => client.chat.completions.create(b)],
  ['/v1/completions', completion, async (b) => client.completions.create(b)],
]) {
  await check(`a ${endpoint} batch runs to completion, each body the direct call's`, async () => {
    const n = 5;
    const file = await upload('in.jsonl', jsonl([...Array(n).keys()].map((i) => ({ custom_id: `req-${i}`, method: 'POST', url: endpoint, body: body(i) }))));
    const batch = await client.batches.create({ input_file_id: file.id, endpoint, completion_window: '24h', metadata: { job: 'sdk' } });
    created.push(batch.id);
    assert.deepEqual(batch.metadata, { job: 'sdk' });
    const done = await until(batch.id, (b) => ['completed', 'failed'].includes(b.status));
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: n, completed: n, failed: 0 });
    for (const key of ['created_at', 'in_progress_at', 'finalizing_at', 'completed_at']) assert.equal(typeof done[key], 'number', key);
    assert.equal(done.error_file_id, null);
    const output = lines(await (await client.files.content(done.output_file_id)).text());
    assert.deepEqual(output.map((l) => l.custom_id), [...Array(n).keys()].map((i) => `req-${i}`));
    for (const [i, line] of output.entries()) {
      assert.equal(line.error, null);
      assert.equal(line.response.status_code, 200);
      assert.match(line.id, /^batch_req_/);
      const live = await direct(body(i));
      // Ids, times and prefix-cache hits differ by nature.
      const strip = ({ id, created, usage: { prompt_tokens_details, ...usage }, ...rest }) => ({ ...rest, usage });
      assert.deepEqual(strip(line.response.body), strip(JSON.parse(JSON.stringify(live))));
    }
    const meta = await client.files.retrieve(done.output_file_id);
    assert.equal(meta.purpose, 'batch_output');
  });
}

await check('cancel mid-way keeps the finished lines and lists the rest once', async () => {
  const n = 300;
  const file = await upload('long.jsonl', jsonl([...Array(n).keys()].map((i) => ({
    custom_id: `long-${i}`, method: 'POST', url: '/v1/completions',
    body: { prompt: `Once upon a time ${i}`, max_tokens: 200, ignore_eos: true, temperature: 0 } }))));
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/completions', completion_window: '24h' });
  created.push(batch.id);
  await until(batch.id, (b) => b.request_counts.completed >= 2);
  const cancelling = await client.batches.cancel(batch.id);
  assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
  assert.equal(typeof cancelling.cancelling_at, 'number');
  const cancelled = await until(batch.id, (b) => b.status === 'cancelled');
  const { total, completed, failed } = cancelled.request_counts;
  assert.equal(total, n);
  assert.equal(completed + failed, n);
  assert.ok(completed >= 2 && completed < n, `completed ${completed}`);
  assert.equal(typeof cancelled.cancelled_at, 'number');
  const output = lines(await (await client.files.content(cancelled.output_file_id)).text());
  const errors = lines(await (await client.files.content(cancelled.error_file_id)).text());
  assert.equal(output.length, completed);
  assert.equal(errors.length, failed);
  assert.ok(output.every((l) => l.response.status_code === 200 && l.response.body.usage.completion_tokens === 200));
  assert.ok(errors.every((l) => l.response === null && l.error.code === 'batch_cancelled'));
  const ids = [...output, ...errors].map((l) => l.custom_id).sort();
  assert.deepEqual(ids, [...Array(n).keys()].map((i) => `long-${i}`).sort());
  await assert.rejects(client.batches.cancel(batch.id), (e) => e instanceof OpenAI.ConflictError);
  assert.equal(await metric(url, 'ladle_batch_lines_running'), 0);
});

await check('batches.list pages with limit/after/has_more (the SDK auto-pager)', async () => {
  const first = await client.batches.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(first.has_more, true);
  const seen = [];
  for await (const b of client.batches.list({ limit: 2 })) seen.push(b.id);
  assert.deepEqual(seen, [...created].reverse());
  assert.equal(await metric(url, 'ladle_batches{status="completed"}'), 2);
  assert.equal(await metric(url, 'ladle_batches{status="cancelled"}'), 1);
  assert.equal(await metric(url, 'ladle_batches{status="failed"}'), 1);
});

await check('files: list, retrieve, delete; bad ids and parameters', async () => {
  const file = await upload('tiny.jsonl', '{}\n');
  const listed = [];
  for await (const f of client.files.list({ purpose: 'batch' })) listed.push(f.id);
  assert.equal(listed[0], file.id);
  assert.equal((await client.files.retrieve(file.id)).bytes, 3);
  assert.equal(await (await client.files.content(file.id)).text(), '{}\n');
  assert.deepEqual(await client.files.del(file.id), { id: file.id, object: 'file', deleted: true });
  await assert.rejects(client.files.retrieve(file.id), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.files.content('file-nope'), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.batches.retrieve('batch_nope'), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/completions', completion_window: '24h' }),
                       (e) => e instanceof OpenAI.NotFoundError && e.param === 'input_file_id');
  await assert.rejects(client.batches.create({ input_file_id: listed[1], endpoint: '/v1/embeddings', completion_window: '24h' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'endpoint');
  await assert.rejects(client.files.create({ file: await toFile(Buffer.from('{}'), 'x.jsonl'), purpose: 'fine-tune' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'purpose');
  await assert.rejects(upload('big.jsonl', 'x'.repeat(1_200_000)), (e) => e.status === 413 && e.code === 'file_too_large');
});

child.kill('SIGTERM');
finish();
