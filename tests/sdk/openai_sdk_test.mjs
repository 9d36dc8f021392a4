// The official OpenAI Node SDK (the `openai` package pinned in package.json) against a live
// `ladle serve` on the trained stories260K: what an application written for OpenAI does,
// unchanged but for baseURL. Checks, through the SDK's own objects and error classes:
//   - models.list and models.retrieve; completions and chat completions, streamed and not, at temperature 0: the
//     streamed deltas concatenate to the non-streamed text, usage adds up, the first chat delta
//     carries the role, include_usage ends the stream with a usage chunk and no choices;
//   - a stop string ends the text before it (finish_reason "stop");
//   - bad requests raise BadRequestError (400) naming the parameter, an unknown path NotFoundError;
//   - aborting a stream (AbortController) frees the request: /metrics shows no running request
//     and an empty KV cache right after;
//   - the server runs with an API key (LADLE_API_KEY): a client with another key gets the SDK's
//     AuthenticationError;
//   - SIGTERM stops the server with exit status 0.
// Usage: node openai_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { startSlowServer, waitForMetrics, CANCELLED, RUNNING, KV_USED } from './harness.mjs';

const [ladle, modelPath, tokenizerPath] = process.argv.slice(2);
if (!tokenizerPath) {
  console.error('usage: node openai_sdk_test.mjs LADLE_BINARY MODEL.bin TOKENIZER.bin');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 90_000).unref();

// Starts the server on a free port; resolves with its base URL once it says it is ready.
function startServer() {
  const child = spawn(ladle, ['serve', '--model', modelPath, '--tokenizer', tokenizerPath, '--port', '0'],
                      { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, LADLE_API_KEY: apiKey } });
  return new Promise((resolve, reject) => {
    let log = '', url = null;
    child.stderr.on('data', (d) => {
      process.stderr.write(d);
      log += d;
      url ??= log.match(/listening on (http:\/\/[0-9.]+:\d+)/)?.[1];
      if (url && /ready/.test(log)) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`ladle serve exited early (${code})`)));
  });
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `${name} missing from /metrics`);
  return Number(line.split(' ')[1]);
}

async function check(name, fn) {
  await fn();
  console.log(`ok - ${name}`);
}

const apiKey = 'sk-ladle-sdk-test';
const { child, url } = await startServer();
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
let model;

try {
  await check('models.list', async () => {
    const page = await client.models.list();
    assert.equal(page.data.length, 1);
    model = page.data[0].id;
    assert.equal(model, 'stories260K.bin');
    const one = await client.models.retrieve(model);
    assert.deepEqual(one, page.data[0]);
    await assert.rejects(client.models.retrieve('gpt-4'), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  });

  await check('completions, streamed and not', async () => {
    const params = { model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0 };
    const full = await client.completions.create(params);
    assert.equal(full.object, 'text_completion');
    assert.equal(full.choices.length, 1);
    assert.equal(full.choices[0].finish_reason, 'length');
    assert.ok(full.choices[0].text.length > 0);
    assert.deepEqual([full.usage.completion_tokens, full.usage.total_tokens - full.usage.prompt_tokens], [40, 40]);

    let text = '', usage = null, finish = null, afterUsage = 0;
    const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      if (usage) afterUsage++;
      if (chunk.usage) {
        usage = chunk.usage;
        assert.equal(chunk.choices.length, 0);
        continue;
      }
      text += chunk.choices[0].text;
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    assert.equal(text, full.choices[0].text);
    assert.equal(finish, 'length');
    assert.deepEqual(usage, full.usage);
    assert.equal(afterUsage, 0, 'the usage chunk is the last one');
  });

  await check('chat completions, streamed and not', async () => {
    const params = { model, temperature: 0, max_completion_tokens: 30,
                     messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me a story.' }] };
    const full = await client.chat.completions.create(params);
    assert.equal(full.object, 'chat.completion');
    assert.equal(full.choices[0].message.role, 'assistant');
    assert.equal(full.choices[0].finish_reason, 'length');
    assert.equal(full.usage.completion_tokens, 30);

    let content = '', roles = [], chunks = 0;
    for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      const delta = chunk.choices[0].delta;
      if (delta.role) roles.push([chunks, delta.role]);
      content += delta.content ?? '';
      chunks++;
    }
    assert.equal(content, full.choices[0].message.content);
    assert.deepEqual(roles, [[0, 'assistant']], 'the role comes once, in the first delta');
  });

  await check('a stop string ends the text before it', async () => {
    const free = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0 });
    const words = free.choices[0].text.split(' ').filter(Boolean);
    const stop = ' ' + words[Math.min(5, words.length - 1)];
    const cut = free.choices[0].text.slice(0, free.choices[0].text.indexOf(stop));
    const stopped = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop });
    assert.equal(stopped.choices[0].text, cut);
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    let streamed = '';
    for await (const chunk of await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 40,
                                                                temperature: 0, stop, stream: true }))
      streamed += chunk.choices[0]?.text ?? '';
    assert.equal(streamed, cut);
  });

  await check('bad requests raise the SDK\'s BadRequestError naming the parameter', async () => {
    const cases = [
      [{ max_tokens: -1 }, 'max_tokens'], [{ temperature: -1 }, 'temperature'], [{ top_p: 0 }, 'top_p'],
      [{ n: 2 }, 'n'], [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'], [{ logprobs: 9 }, 'logprobs'],
      [{ max_token: 5 }, 'max_token'], [{ prompt: 'x'.repeat(4000) }, null],
    ];
    for (const [extra, param] of cases) {
      await assert.rejects(client.completions.create({ model, prompt: 'x', max_tokens: 5, ...extra }), (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${e}`);
        assert.equal(e.status, 400);
        assert.equal(e.type, 'invalid_request_error');
        if (param) assert.equal(e.param, param);
        return true;
      });
    }
    await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] }),
                         (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
    await assert.rejects(client.get('/no-such-path'), (e) => e instanceof OpenAI.NotFoundError);
  });

  await check('a wrong API key raises AuthenticationError', async () => {
    const stranger = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(stranger.completions.create({ model, prompt: 'x', max_tokens: 2 }),
                         (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
  });

  // On a model slow enough that a 2000-token answer cannot finish before the abort (stories260K
  // would finish it within milliseconds and prove nothing): the request must end as cancelled,
  // with far fewer tokens generated than asked, and give back its slot and KV blocks.
  await check('an aborted stream is cancelled and frees its slot and KV blocks', async () => {
    const slow = await startSlowServer(ladle);
    const slowClient = new OpenAI({ baseURL: `${slow.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const cancelledBefore = await metric(slow.url, CANCELLED);
    const tokensBefore = await metric(slow.url, 'ladle_generation_tokens_total');
    const abort = new AbortController();
    const stream = await slowClient.completions.create(
      { model: slow.model, prompt: 'Once', max_tokens: 2000, ignore_eos: true, stream: true }, { signal: abort.signal });
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 5) abort.abort();
    } catch (e) {
      assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', String(e));
    }
    assert.ok(chunks >= 5 && chunks < 100, `${chunks} chunks`);  // chunks already received may still come out
    const got = await waitForMetrics(slow.url, { [CANCELLED]: cancelledBefore + 1, [RUNNING]: 0, [KV_USED]: 0 });
    assert.deepEqual(got, { [CANCELLED]: cancelledBefore + 1, [RUNNING]: 0, [KV_USED]: 0 });
    const generated = (await metric(slow.url, 'ladle_generation_tokens_total')) - tokensBefore;
    assert.ok(generated < 1000, `${generated} tokens generated of the 2000 asked`);
    slow.child.kill('SIGTERM');
  });
} catch (e) {
  child.kill('SIGKILL');
  throw e;
}

child.kill('SIGTERM');
const { code, signal } = await exited;
assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'SIGTERM ends ladle serve with status 0');
console.log('ok - SIGTERM: exit 0');
