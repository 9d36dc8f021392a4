// The /v1/realtime WebSocket with a real client library (the npm `ws` package pinned in
// package.json) against a live `ladle serve`:
//   - a full turn on stories260K at temperature 0 whose text equals the chat completion of the
//     same conversation; a second turn on the same connection;
//   - response.cancel mid-stream → response.done "cancelled", and the request really cancelled
//     (finished{reason="cancelled"} + 1, 0 running, 0 used KV blocks) on a model slow enough that
//     it could not have finished; closing the socket mid-stream does the same;
//   - every bad-frame class gets an error event and the connection keeps working;
//   - the API key by subprotocol (as browsers send it), echoed as "realtime", and refused without.
// Usage: node realtime_ws_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, startSlowServer, waitForMetrics, metric, check, finish, CANCELLED, RUNNING, KV_USED } from './harness.mjs';

const [ladle, modelPath, tokenizerPath] = process.argv.slice(2);
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 90_000).unref();

// A connection whose incoming events queue up; next(type) waits for the next event (of that type,
// skipping others when given).
function connect(url, protocols = ['realtime']) {
  const ws = new WebSocket(url.replace('http', 'ws') + '/v1/realtime', protocols);
  const queue = [], waiters = [];
  ws.on('message', (data, isBinary) => {
    const event = JSON.parse(data.toString());
    const w = waiters.shift();
    if (w) w(event); else queue.push(event);
  });
  const next = () => new Promise((resolve) => {
    if (queue.length) resolve(queue.shift()); else waiters.push(resolve);
  });
  const until = async (type) => {
    const seen = [];
    for (;;) {
      const e = await next();
      seen.push(e);
      if (e.type === type) return seen;
    }
  };
  const send = (e) => ws.send(typeof e === 'string' ? e : JSON.stringify(e));
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`))); });
  return { ws, next, until, send, opened };
}

const userItem = (text) => ({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
const textOf = (events) => events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');

const apiKey = 'sk-ladle-ws';
const { url } = await startServer(ladle, { model: modelPath, tokenizer: tokenizerPath, apiKey });

await check('a turn equals the chat completion of the same conversation; a second turn follows', async () => {
  const c = connect(url, ['realtime', `openai-insecure-api-key.${apiKey}`]);
  await c.opened;
  assert.equal(c.ws.protocol, 'realtime');
  assert.equal((await c.next()).type, 'session.created');
  c.send({ type: 'session.update', session: { temperature: 0, max_output_tokens: 40 } });
  assert.equal((await c.next()).type, 'session.updated');
  c.send(userItem('Once upon a time'));
  assert.equal((await c.next()).type, 'conversation.item.created');
  c.send({ type: 'response.create' });
  const events = await c.until('response.done');
  assert.deepEqual(events.slice(0, 3).map((e) => e.type), ['response.created', 'response.output_item.added', 'response.content_part.added']);
  const done = events.at(-1).response;
  assert.equal(done.status, 'incomplete');
  assert.equal(done.usage.output_tokens, 40);
  const chat = await (await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 40, temperature: 0 }),
  })).json();
  assert.equal(textOf(events), chat.choices[0].message.content);
  assert.equal(events.find((e) => e.type === 'response.output_text.done').text, textOf(events));
  c.send(userItem('And then?'));
  await c.next();
  c.send({ type: 'response.create', response: { max_output_tokens: 5 } });
  const second = await c.until('response.done');
  assert.equal(second.at(-1).response.usage.output_tokens, 5);
  assert.ok(second.at(-1).response.usage.input_tokens > done.usage.input_tokens + 40);  // the whole conversation
  assert.ok(second.at(-1).response.usage.input_token_details.cached_tokens > 0);       // its prefix from the cache
  c.ws.close();
});

await check('bad frames get error events and the connection keeps working', async () => {
  const c = connect(url, ['realtime', `openai-insecure-api-key.${apiKey}`]);
  await c.opened;
  await c.next();
  const cases = [
    ['not json', 'invalid_json'], ['{"event_id":"x"}', 'missing_field'], ['{"type":"input_audio_buffer.append"}', 'unknown_event'],
    ['{"type":"conversation.item.create"}', 'missing_field'], ['{"type":"response.cancel","event_id":"c9"}', 'response_cancel_not_active'],
  ];
  for (const [text, code] of cases) {
    c.send(text);
    const e = await c.next();
    assert.equal(e.type, 'error', text);
    assert.equal(e.error.code, code, text);
  }
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await c.next()).error.code, 'invalid_frame');
  c.send({ type: 'session.update', session: { instructions: 'still here' } });
  assert.equal((await c.next()).session.instructions, 'still here');
  c.ws.close();
});

await check('without the key the upgrade is refused with 401', async () => {
  await assert.rejects(connect(url).opened, /401/);
  await assert.rejects(connect(url, ['realtime', 'openai-insecure-api-key.wrong']).opened, /401/);
});

// A model slow enough that a 2000-token answer is still running when it is cancelled.
const slow = await startSlowServer(ladle);
for (const how of ['response.cancel', 'closing the socket']) {
  await check(`${how} mid-stream cancels the request and frees its KV blocks`, async () => {
    const before = await metric(slow.url, CANCELLED);
    const c = connect(slow.url);
    await c.opened;
    await c.next();
    c.send({ type: 'session.update', session: { max_output_tokens: 2000 } });
    await c.next();
    c.send(userItem('Tell me a long story'));
    await c.next();
    c.send({ type: 'response.create' });
    await c.until('response.output_text.delta');
    if (how === 'response.cancel') {
      c.send({ type: 'response.cancel' });
      const done = (await c.until('response.done')).at(-1).response;
      assert.equal(done.status, 'cancelled');
      assert.equal(done.status_details.reason, 'client_cancelled');
    } else {
      c.ws.terminate();
    }
    const got = await waitForMetrics(slow.url, { [CANCELLED]: before + 1, [RUNNING]: 0, [KV_USED]: 0 });
    assert.deepEqual(got, { [CANCELLED]: before + 1, [RUNNING]: 0, [KV_USED]: 0 });
    if (how === 'response.cancel') {  // the connection stays open for the next turn
      c.send({ type: 'response.create', response: { max_output_tokens: 2 } });
      assert.equal((await c.until('response.done')).at(-1).response.status, 'incomplete');
      c.ws.close();
    }
  });
}

finish();
process.exit(0);
