// The official OpenAI Node SDK (the `openai` package pinned in package.json) on ladle's Responses
// API (POST/GET/DELETE /v1/responses, background mode) and on log-probabilities. Checks, through
// the SDK's own objects, helpers and error classes:
//   - responses.create, streamed and not, at temperature 0: the same text, output_text, usage with
//     input_tokens_details.cached_tokens, contiguous sequence numbers, the streaming helper's
//     finalResponse(); max_output_tokens → status "incomplete" (reason "max_output_tokens");
//   - background: true, polled with responses.retrieve until done: the text of a foreground run;
//   - a background stream cut after a few events and resumed with
//     responses.stream({ response_id, starting_after }) (and with retrieve(..., { stream,
//     starting_after }), which the server resumes itself): the deltas before and after make the
//     uninterrupted text, the sequence numbers contiguous;
//   - responses.cancel on a running background response (a synthetic model slow enough to be
//     still running): status "cancelled", the engine cancels it
//     (ladle_requests_finished_total{reason="cancelled"} + 1) and its KV blocks are freed;
//   - responses.del, then retrieve → NotFoundError;
//   - unsupported fields → BadRequestError naming the parameter;
//   - log-probabilities (chat.completions, completions, responses; streamed and not), when the
//     engine produces them (probed first; skipped otherwise): one entry per token, top lists of
//     the asked length sorted descending, the sampled token's log-probability ≤ 0 and the top one
//     at temperature 0, the streamed entries the non-streamed ones.
// Usage: node openai_responses_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, startSlowServer, metric, waitForMetrics, check, skip, finish, CANCELLED, RUNNING, KV_USED }
  from './harness.mjs';

const [ladle, modelPath, tokenizerPath] = process.argv.slice(2);
if (!tokenizerPath) {
  console.error('usage: node openai_responses_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 60_000).unref();

const apiKey = 'sk-ladle-sdk-test';
const model = 'stories260K.bin';
const [{ url }, slow] = await Promise.all([startServer(ladle, { model: modelPath, tokenizer: tokenizerPath, apiKey }),
                                           startSlowServer(ladle, apiKey)]);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
// On a synthetic model ~60x slower per token than stories260K (see harness.mjs): each token comes
// in its own delta, and a long request is still running seconds later.
const slowClient = new OpenAI({ baseURL: `${slow.url}/v1`, apiKey, maxRetries: 0 });

// The text of a response object as retrieve returns it (the SDK adds output_text only on create).
const textOf = (r) => r.output.flatMap((item) => item.content ?? []).map((c) => c.text).join('');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls retrieve until `done(response)` or the deadline; returns the last response.
async function pollResponse(c, id, done, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await c.responses.retrieve(id);
    if (done(r) || Date.now() > deadline) return r;
    await sleep(20);
  }
}
const settled = (r) => !['queued', 'in_progress'].includes(r.status);

const base = { model, input: 'Tell me a story about a dog.', temperature: 0, max_output_tokens: 64 };
let full;  // the non-streamed response of `base`

await check('responses.create, streamed and not: same text, usage, sequence numbers', async () => {
  full = await client.responses.create(base);
  assert.equal(full.object, 'response');
  assert.match(full.id, /^resp_/);
  assert.ok(['completed', 'incomplete'].includes(full.status), full.status);
  assert.ok(full.output_text.length > 0);
  assert.equal(full.output_text, textOf(full));
  assert.equal(full.output.length, 1);
  assert.equal(full.output[0].type, 'message');
  assert.equal(full.output[0].role, 'assistant');
  const u = full.usage;
  assert.equal(typeof u.input_tokens_details.cached_tokens, 'number');
  assert.ok(u.input_tokens > 0 && u.output_tokens > 0 && u.output_tokens <= 64);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);

  const events = [];
  for await (const event of await client.responses.create({ ...base, stream: true })) events.push(event);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence numbers 0, 1, 2, ...');
  assert.equal(events[0].type, 'response.created');
  const last = events.at(-1);
  assert.equal(last.type, `response.${full.status}`);
  const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.equal(text, full.output_text);
  assert.equal(events.find((e) => e.type === 'response.output_text.done').text, full.output_text);
  assert.equal(textOf(last.response), full.output_text);
  const su = last.response.usage;
  assert.deepEqual([su.input_tokens, su.output_tokens, su.total_tokens], [u.input_tokens, u.output_tokens, u.total_tokens]);
  assert.ok(su.input_tokens_details.cached_tokens > 0, 'the repeated prompt hits the prefix cache');

  const helper = client.responses.stream(base);
  let helperText = '';
  helper.on('response.output_text.delta', (e) => { helperText += e.delta; });
  const final = await helper.finalResponse();
  assert.equal(textOf(final), full.output_text);  // (4.104's helper sets no output_text)
  assert.equal(helperText, full.output_text);
});

await check('max_output_tokens → status "incomplete", reason "max_output_tokens"', async () => {
  const short = await client.responses.create({ ...base, max_output_tokens: 5 });
  assert.equal(short.status, 'incomplete');
  assert.deepEqual(short.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(short.usage.output_tokens, 5);
  assert.equal(short.max_output_tokens, 5);
  assert.ok(full.output_text.startsWith(short.output_text));
});

await check('background: true, polled with retrieve: the text of a foreground run', async () => {
  const started = await client.responses.create({ ...base, background: true });
  assert.equal(started.background, true);
  assert.ok(['queued', 'in_progress', 'completed', 'incomplete'].includes(started.status), started.status);
  const done = await pollResponse(client, started.id, settled);
  assert.equal(done.status, full.status);
  assert.equal(textOf(done), full.output_text);
  assert.equal(done.usage.output_tokens, full.usage.output_tokens);
});

await check('a background stream cut and resumed: the same text, contiguous sequence numbers', async () => {
  const params = { model: slow.model, input: 'Once upon a time', temperature: 0, max_output_tokens: 24 };
  const whole = await slowClient.responses.create(params);
  const first = [];
  for await (const event of await slowClient.responses.create({ ...params, background: true, stream: true })) {
    first.push(event);
    if (first.filter((e) => e.type === 'response.output_text.delta').length === 3) break;  // closes the connection
  }
  const id = first[0].response.id;
  const after = first.at(-1).sequence_number;
  assert.equal(first.at(-1).type, 'response.output_text.delta');
  assert.deepEqual(first.map((e) => e.sequence_number), first.map((_, i) => i));
  const deltas = (events) => events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');

  // The SDK's helper: it replays the response from the start and emits what follows starting_after.
  const resumed = slowClient.responses.stream({ response_id: id, starting_after: after });
  const rest = [];
  for await (const event of resumed) rest.push(event);
  assert.deepEqual(rest.map((e) => e.sequence_number), rest.map((_, i) => after + 1 + i), 'contiguous after the cut');
  assert.equal(rest.at(-1).type, `response.${whole.status}`);
  assert.ok(deltas(rest).length > 0, 'text after the cut');
  assert.equal(deltas(first) + deltas(rest), whole.output_text);
  assert.equal(textOf(await resumed.finalResponse()), whole.output_text);

  // The server's own resume (GET ?stream=true&starting_after=N): only what follows N comes.
  const tail = [];
  for await (const event of await slowClient.responses.retrieve(id, { stream: true, starting_after: after })) tail.push(event);
  assert.deepEqual(tail, rest.map((e) => (e.type === 'response.output_text.delta' ? (({ snapshot, ...x }) => x)(e) : e)));
});

await check('responses.cancel on a running background response: cancelled, KV blocks freed', async () => {
  // On the slow model 2000 tokens take many seconds: the response is still running when
  // cancelled, and only a cancel ends it early.
  const server = slow, c = slowClient;
  const cancelled = await metric(server.url, CANCELLED);
  const started = await c.responses.create({ model: server.model, input: 'Once upon a time', background: true,
                                             max_output_tokens: 2000 });
  const running = await pollResponse(c, started.id, (r) => r.status === 'in_progress' && textOf(r).length > 0);
  assert.equal(running.status, 'in_progress');
  assert.deepEqual(await waitForMetrics(server.url, { [RUNNING]: 1 }), { [RUNNING]: 1 }, 'the response runs');
  const reply = await c.responses.cancel(started.id);
  if (reply) assert.equal(reply.status, 'cancelled');
  assert.equal((await c.responses.retrieve(started.id)).status, 'cancelled');
  const got = await waitForMetrics(server.url, { [RUNNING]: 0, [KV_USED]: 0, [CANCELLED]: cancelled + 1 });
  assert.deepEqual(got, { [RUNNING]: 0, [KV_USED]: 0, [CANCELLED]: cancelled + 1 });
  const after = await c.responses.retrieve(started.id);
  assert.equal(after.status, 'cancelled');
  assert.ok(after.usage === null || after.usage.output_tokens < 2000);
});

await check('responses.del, then retrieve → NotFoundError', async () => {
  const r = await client.responses.create({ ...base, max_output_tokens: 4, background: true });
  await pollResponse(client, r.id, settled);
  await client.responses.del(r.id);
  await assert.rejects(client.responses.retrieve(r.id), (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(client.responses.del(r.id), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.responses.retrieve('resp_nonexistent'), (e) => e instanceof OpenAI.NotFoundError);
});

await check('unsupported fields → BadRequestError naming the parameter', async () => {
  const cases = [
    [{ tools: [{ type: 'web_search_preview' }] }, 'tools'],
    [{ previous_response_id: 'resp_123' }, 'previous_response_id'],
    [{ include: ['file_search_call.results'] }, 'include'],
    [{ background: true, store: false }, 'background'],
    [{ top_logprobs: 21 }, 'top_logprobs'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] }, 'input'],
    [{ max_output_token: 5 }, 'max_output_token'],
  ];
  for (const [extra, param] of cases) {
    await assert.rejects(client.responses.create({ ...base, ...extra }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${e}`);
      assert.equal(e.status, 400);
      assert.equal(e.param, param, JSON.stringify(extra));
      return true;
    });
  }
});

// --- log-probabilities ---------------------------------------------------------------------------

// One token's entry ({token, logprob, bytes, top_logprobs}, as chat and responses give them).
function checkEntry(entry, k, greedy) {
  assert.equal(typeof entry.token, 'string');
  assert.ok(Array.isArray(entry.bytes));
  assert.ok(entry.logprob <= 0, `logprob ${entry.logprob}`);
  const top = entry.top_logprobs;
  assert.equal(top.length, k, 'a top list of the asked length');
  for (let i = 1; i < top.length; i++) assert.ok(top[i - 1].logprob >= top[i].logprob, 'sorted descending');
  const same = top.find((t) => Buffer.from(t.bytes).equals(Buffer.from(entry.bytes)));
  if (same) {
    assert.equal(same.logprob, entry.logprob);
    assert.ok(entry.logprob >= top.at(-1).logprob);
  }
  if (greedy) assert.deepEqual([entry.bytes, entry.logprob], [top[0].bytes, top[0].logprob], 'greedy: the top token');
}

function checkEntries(entries, k, text, tokens) {
  assert.equal(entries.length, tokens, 'one entry per token');
  for (const e of entries) checkEntry(e, k, true);
  assert.equal(Buffer.concat(entries.map((e) => Buffer.from(e.bytes))).toString(), text, 'the tokens spell the text');
}

const chatParams = { model, temperature: 0, max_completion_tokens: 24, logprobs: true, top_logprobs: 2,
                     messages: [{ role: 'user', content: 'Tell me a story.' }] };
const probe = await client.chat.completions.create(chatParams);
if (!(probe.choices[0].logprobs?.content?.length > 0)) {
  skip('logprobs', 'engine does not produce them yet');
} else {
  await check('chat.completions logprobs, streamed and not', async () => {
    const choice = probe.choices[0];
    assert.equal(choice.finish_reason, 'length');  // every token printed (no EOS)
    checkEntries(choice.logprobs.content, 2, choice.message.content, probe.usage.completion_tokens);
    let streamed = [], content = '';
    for await (const chunk of await client.chat.completions.create({ ...chatParams, stream: true })) {
      streamed = streamed.concat(chunk.choices[0]?.logprobs?.content ?? []);
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(content, choice.message.content);
    assert.deepEqual(streamed, choice.logprobs.content);
  });

  await check('completions logprobs, streamed and not', async () => {
    const params = { model, prompt: 'Once upon a time', max_tokens: 24, temperature: 0, logprobs: 2 };
    const r = await client.completions.create(params);
    const { text } = r.choices[0];
    assert.equal(r.choices[0].finish_reason, 'length');
    const lp = r.choices[0].logprobs;
    const n = r.usage.completion_tokens;
    assert.deepEqual([lp.tokens.length, lp.token_logprobs.length, lp.top_logprobs.length, lp.text_offset.length],
                     [n, n, n, n], 'one entry per token');
    assert.equal(lp.tokens.join(''), text);
    let offset = 0;
    lp.tokens.forEach((token, i) => {
      assert.equal(lp.text_offset[i], offset);
      offset += Buffer.byteLength(token);
      const top = Object.entries(lp.top_logprobs[i]).sort((a, b) => b[1] - a[1]);
      assert.equal(top.length, 2, 'a top list of the asked length');
      assert.ok(lp.token_logprobs[i] <= 0);
      assert.deepEqual([token, lp.token_logprobs[i]], top[0], 'greedy: the top token');
    });
    const streamed = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for await (const chunk of await client.completions.create({ ...params, stream: true })) {
      const l = chunk.choices[0]?.logprobs;
      if (l) for (const key of Object.keys(streamed)) streamed[key].push(...l[key]);
    }
    assert.deepEqual(streamed, lp);
  });

  await check('responses logprobs, streamed and not', async () => {
    const params = { ...base, max_output_tokens: 24, include: ['message.output_text.logprobs'], top_logprobs: 2 };
    const r = await client.responses.create(params);
    assert.equal(r.status, 'incomplete');
    const entries = r.output[0].content[0].logprobs;
    checkEntries(entries, 2, r.output_text, r.usage.output_tokens);
    assert.equal(r.top_logprobs, 2);
    let streamed = [], done = null;
    for await (const event of await client.responses.create({ ...params, stream: true })) {
      if (event.type === 'response.output_text.delta') streamed = streamed.concat(event.logprobs);
      if (event.type === 'response.output_text.done') done = event.logprobs;
    }
    assert.deepEqual(streamed, entries);
    assert.deepEqual(done, entries);
  });
}

finish();
process.exit(0);
