// The official Anthropic TypeScript SDK (`@anthropic-ai/sdk`, pinned in package.json) against a live
// `ladle serve`: what an application written for Claude does, unchanged but for baseURL (the
// server root: the SDK adds /v1). Checks, through the SDK's own objects and error classes:
//   - messages.create, streamed and not, at temperature 0: the same text; the usage of both agrees
//     and adds up (input_tokens + cache_read_input_tokens is the prompt, output_tokens the
//     generated tokens);
//   - messages.stream(): the events come in Anthropic's order and finalMessage() is the
//     non-streamed message;
//   - stop_sequences end the text before the matched one (stop_reason "stop_sequence",
//     stop_sequence the string matched), streamed and not; max_tokens gives "max_tokens";
//   - messages.countTokens is the prompt the generation saw;
//   - a system prompt's "x-anthropic-billing-header" text block changes nothing;
//   - an aborted stream is cancelled (ladle_requests_finished_total{reason="cancelled"} + 1, on a
//     synthetic model slow enough not to finish first) and frees its slot and KV blocks;
//   - errors: 400 BadRequestError (no max_tokens, tools, an image block), 401 AuthenticationError
//     (wrong x-api-key or Bearer token; the right key is accepted either way), 429 RateLimitError
//     (a server run with --max-waiting 0): Anthropic's error body and a request-id header.
// Usage: node anthropic_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, startSlowServer, metric, waitForMetrics, check, finish, CANCELLED, RUNNING, KV_USED }
  from './harness.mjs';

const [ladle, modelPath, tokenizerPath] = process.argv.slice(2);
if (!tokenizerPath) {
  console.error('usage: node anthropic_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 60_000).unref();

const apiKey = 'sk-ant-ladle-sdk-test';
const model = 'stories260K.bin';
const { url } = await startServer(ladle, { model: modelPath, tokenizer: tokenizerPath, apiKey });
const client = new Anthropic({ baseURL: url, apiKey, maxRetries: 0 });
const user = (content) => [{ role: 'user', content }];
const textOf = (message) => message.content.map((b) => b.text).join('');

// Anthropic's error shape, a request id in the header and the body, and the SDK's class.
function isApiError(Class, status, type) {
  return (e) => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e}`);
    assert.equal(e.status, status);
    assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
    assert.equal(e.error.error.type, type);
    assert.equal(typeof e.error.error.message, 'string');
    assert.match(e.headers['request-id'] ?? '', /^req_/, 'a request-id header');
    assert.equal(e.request_id, e.headers['request-id']);
    assert.equal(e.error.request_id, e.request_id);
    return true;
  };
}

const base = { model, max_tokens: 48, temperature: 0, messages: user('Tell me a story about a cat.') };
let full;  // the non-streamed message of `base`

await check('messages.create, streamed and not: same text, usage adds up', async () => {
  full = await client.messages.create(base);
  assert.equal(full.type, 'message');
  assert.equal(full.role, 'assistant');
  assert.match(full.id, /^msg_/);
  assert.equal(full.content.length, 1);
  assert.equal(full.content[0].type, 'text');
  assert.ok(textOf(full).length > 0);
  assert.ok(['max_tokens', 'end_turn'].includes(full.stop_reason), full.stop_reason);
  assert.equal(full.stop_sequence, null);
  const u = full.usage;
  assert.ok(u.output_tokens > 0 && u.output_tokens <= 48);
  if (full.stop_reason === 'max_tokens') assert.equal(u.output_tokens, 48);
  assert.equal(u.cache_creation_input_tokens, 0);
  const prompt = u.input_tokens + u.cache_read_input_tokens;

  let text = '', start = null, delta = null;
  for await (const event of await client.messages.create({ ...base, stream: true })) {
    if (event.type === 'message_start') start = event.message;
    if (event.type === 'content_block_delta') text += event.delta.text;
    if (event.type === 'message_delta') delta = event;
  }
  assert.equal(text, textOf(full));
  assert.equal(start.usage.input_tokens + start.usage.cache_read_input_tokens, prompt);
  assert.ok(start.usage.cache_read_input_tokens > 0, 'the repeated prompt hits the prefix cache');
  assert.equal(start.usage.output_tokens, 0);
  assert.deepEqual(delta.delta, { stop_reason: full.stop_reason, stop_sequence: null });
  assert.equal(delta.usage.output_tokens, u.output_tokens);
  const counted = await client.messages.countTokens({ model, messages: base.messages });
  assert.equal(counted.input_tokens, prompt);
});

await check('messages.stream(): events in order, finalMessage() is the non-streamed message', async () => {
  const stream = client.messages.stream(base);
  let texts = '';
  stream.on('text', (t) => { texts += t; });
  const types = [];
  for await (const event of stream) if (event.type !== 'ping') types.push(event.type);
  const message = await stream.finalMessage();
  const squeezed = types.filter((t, i) => t !== 'content_block_delta' || types[i - 1] !== 'content_block_delta');
  assert.deepEqual(squeezed, ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
                              'message_delta', 'message_stop']);
  assert.equal(textOf(message), textOf(full));
  assert.equal(texts, textOf(full));
  assert.equal(message.stop_reason, full.stop_reason);
  assert.equal(message.usage.output_tokens, full.usage.output_tokens);
});

await check('stop_sequences end the text before the matched one; max_tokens', async () => {
  const free = textOf(full);
  const words = free.split(' ').filter(Boolean);
  assert.ok(words.length > 6, free);
  const stop = ' ' + words[5];
  const cut = free.slice(0, free.indexOf(stop));
  const params = { ...base, stop_sequences: ['no such text', stop] };
  const stopped = await client.messages.create(params);
  assert.equal(textOf(stopped), cut);
  assert.equal(stopped.stop_reason, 'stop_sequence');
  assert.equal(stopped.stop_sequence, stop);
  const streamed = await client.messages.stream(params).finalMessage();
  assert.equal(textOf(streamed), cut);
  assert.equal(streamed.stop_reason, 'stop_sequence');
  assert.equal(streamed.stop_sequence, stop);

  const short = await client.messages.create({ ...base, max_tokens: 5 });
  assert.equal(short.stop_reason, 'max_tokens');
  assert.equal(short.stop_sequence, null);
  assert.equal(short.usage.output_tokens, 5);
  assert.ok(textOf(full).startsWith(textOf(short)));
});

await check('a system prompt\'s x-anthropic-billing-header block changes nothing', async () => {
  const system = [{ type: 'text', text: 'You are a storyteller. ' }, { type: 'text', text: 'Be kind.' }];
  const billing = (n) => ({ type: 'text', text: `x-anthropic-billing-header: cc_version=1.0.${n}; cc_entrypoint=cli; cch=${n}f3a;` });
  const plain = await client.messages.create({ ...base, system });
  const withHeader = await client.messages.create({ ...base, system: [billing(1), ...system] });
  assert.equal(textOf(withHeader), textOf(plain));
  const sum = (m) => m.usage.input_tokens + m.usage.cache_read_input_tokens;
  assert.equal(sum(withHeader), sum(plain));
  assert.ok(withHeader.usage.cache_read_input_tokens > 0, 'the prompt, header dropped, is in the prefix cache');
  const count = async (s) => (await client.messages.countTokens({ model, system: s, messages: base.messages })).input_tokens;
  assert.equal(await count([billing(2), ...system]), await count(system));
  assert.equal(await count(system), sum(plain));
  assert.equal(await count('You are a storyteller. Be kind.'), sum(plain), 'blocks are the string they spell');
});

await check('errors: 400 BadRequestError (Anthropic shape, request-id)', async () => {
  const cases = [
    [{ max_tokens: undefined }, /max_tokens/],
    [{ tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }] }, /tools/],
    [{ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png',
                                                                                data: 'iVBORw0KGgo=' } }] }] }, /image/],
    [{ temperature: 1.5 }, /temperature/],
    [{ top_kk: 3 }, /top_kk/],
  ];
  for (const [extra, message] of cases) {
    await assert.rejects(client.messages.create({ ...base, ...extra }), (e) => {
      isApiError(Anthropic.BadRequestError, 400, 'invalid_request_error')(e);
      assert.match(e.error.error.message, message);
      return true;
    }, JSON.stringify(extra));
  }
  await assert.rejects(client.messages.countTokens({ model, messages: [] }),
                       isApiError(Anthropic.BadRequestError, 400, 'invalid_request_error'));
});

await check('errors: 401 AuthenticationError; x-api-key and Bearer both accepted', async () => {
  const wrongKey = new Anthropic({ baseURL: url, apiKey: 'sk-ant-wrong', maxRetries: 0 });
  await assert.rejects(wrongKey.messages.create({ ...base, max_tokens: 2 }),
                       isApiError(Anthropic.AuthenticationError, 401, 'authentication_error'));
  await assert.rejects(wrongKey.messages.countTokens({ model, messages: base.messages }),
                       isApiError(Anthropic.AuthenticationError, 401, 'authentication_error'));
  const wrongToken = new Anthropic({ baseURL: url, apiKey: null, authToken: 'sk-ant-wrong', maxRetries: 0 });
  await assert.rejects(wrongToken.messages.create({ ...base, max_tokens: 2 }),
                       isApiError(Anthropic.AuthenticationError, 401, 'authentication_error'));
  const bearer = new Anthropic({ baseURL: url, apiKey: null, authToken: apiKey, maxRetries: 0 });
  assert.equal(textOf(await bearer.messages.create(base)), textOf(full));
});

await check('errors: 429 RateLimitError from a server with --max-waiting 0', async () => {
  const busy = await startServer(ladle, { model: modelPath, tokenizer: tokenizerPath, flags: ['--max-waiting', '0'] });
  const c = new Anthropic({ baseURL: busy.url, apiKey: 'any', maxRetries: 0 });
  await assert.rejects(c.messages.create(base), (e) => {
    isApiError(Anthropic.RateLimitError, 429, 'rate_limit_error')(e);
    assert.ok(e.headers['retry-after'], 'a retry-after header');
    return true;
  });
  await assert.rejects(c.messages.stream(base).finalMessage(), isApiError(Anthropic.RateLimitError, 429, 'rate_limit_error'));
  busy.child.kill('SIGKILL');
});

await check('an aborted stream is cancelled and frees its slot and KV blocks', async () => {
  // A synthetic model computing ~60x stories260K's work per token: 2000 tokens take seconds, so
  // the request is surely running when the abort arrives, and only a cancel ends it early.
  const server = await startSlowServer(ladle, apiKey);
  const c = new Anthropic({ baseURL: server.url, apiKey, maxRetries: 0 });
  const cancelled = await metric(server.url, CANCELLED);
  const disconnects = await metric(server.url, 'ladle_client_disconnects_total');
  const stream = c.messages.stream({ model: server.model, max_tokens: 2000, messages: user('Once upon a time') });
  const firstDelta = new Promise((resolve) => stream.once('text', resolve));
  const ended = stream.done().then(() => 'completed', (e) => e);
  await firstDelta;
  assert.deepEqual(await waitForMetrics(server.url, { [RUNNING]: 1 }), { [RUNNING]: 1 }, 'the request runs');
  stream.abort();
  const end = await ended;
  assert.ok(end instanceof Anthropic.APIUserAbortError, `the stream ends aborted, not ${end}`);
  const got = await waitForMetrics(server.url, { [RUNNING]: 0, [KV_USED]: 0, [CANCELLED]: cancelled + 1,
                                                 ladle_client_disconnects_total: disconnects + 1 });
  assert.deepEqual(got, { [RUNNING]: 0, [KV_USED]: 0, [CANCELLED]: cancelled + 1,
                          ladle_client_disconnects_total: disconnects + 1 });
  server.child.kill('SIGKILL');
});

finish();
process.exit(0);
