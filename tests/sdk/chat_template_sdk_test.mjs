// Chat templates and end-of-turn tokens, served: a Llama-3-shaped (llama, RoPE base 500000) and a
// Qwen-shaped (qwen2: Q/K/V biases) synthetic model (`ladle make-model --vocab`: random weights, the
// real byte-level BPE vocabulary and chat template of llama.cpp's ggml-vocab-llama-bpe.gguf /
// ggml-vocab-qwen2.gguf) behind `ladle serve`,
// driven by the official OpenAI Node SDK. For each:
//   - chat streamed through the SDK: deltas, finish_reason, usage;
//   - the prompt the server gives the model is `ladle render-chat`'s text tokenized as
//     `ladle tokenize` does (special tokens parsed, one BOS): POST /tokenize {messages} and
//     usage.prompt_tokens agree with it (Llama 3's template is given with --chat-template, the
//     vocabulary GGUF having none; Qwen's is the GGUF's own), and Messages (count_tokens) and
//     Responses count the same prompt for the same conversation;
//   - /tokenize and /detokenize round-trip text under the BPE vocabulary;
//   - generation stops at the end-of-turn token (<|eot_id|>, <|im_end|>), which is neither EOS nor
//     streamed. To make the model say it without faking anything, a copy of the model has the
//     classifier rows of its greedy first token and of the end-of-turn token swapped: its most
//     likely first token is then the end-of-turn token. The answer is empty, finish_reason "stop",
//     one completion token; with ignore_eos it runs on to max_tokens and the token prints nothing.
// Usage: node chat_template_sdk_test.mjs LADLE_BINARY VOCAB_DIR
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startServer, check, finish } from './harness.mjs';
import { readGguf, spellBytes } from './gguf_file.mjs';

const [ladle, vocabDir] = process.argv.slice(2);
if (!vocabDir) {
  console.error('usage: node chat_template_sdk_test.mjs LADLE_BINARY VOCAB_DIR');
  process.exit(2);
}
setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 170_000).unref();
const dir = mkdtempSync(join(tmpdir(), 'ladle-chat-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const families = [
  { name: 'Llama 3', vocab: 'ggml-vocab-llama-bpe.gguf', eot: '<|eot_id|>', bos: '<|begin_of_text|>',
    template: join(vocabDir, 'templates', 'meta-llama-Llama-3.2-3B-Instruct.jinja'),
    shape: ['--arch', 'llama', '--rope-theta', '500000'] },
  { name: 'Qwen 2.5', vocab: 'ggml-vocab-qwen2.gguf', eot: '<|im_end|>', bos: null, template: null,
    shape: ['--arch', 'qwen2', '--rope-theta', '1000000'] },
];
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hello! Say 日本語 and 🦙, please.' },
];

// The ids `ladle tokenize` gives `ladle render-chat`'s text (special tokens parsed; the BOS, if
// any, is the one the template wrote).
function referenceTokens(model, template) {
  const rendered = execFileSync(ladle, ['render-chat', '-m', model, ...(template ? ['--template', template] : []),
                                        '--messages', JSON.stringify(messages)], { encoding: 'utf8' });
  const ids = execFileSync(ladle, ['tokenize', '-m', model, '--no-bos', '--text', rendered], { encoding: 'utf8' });
  return { rendered, ids: ids.trim().split(/\s+/).map(Number) };
}

// A copy of `model` whose classifier (output.weight, F32) has rows a and b swapped.
function swapClassifierRows(model, out, a, b) {
  const g = readGguf(model);
  const t = g.tensors.get('output.weight');
  assert.ok(t, 'the model has its own output.weight');
  assert.equal(t.type, 0, 'output.weight is F32');
  const row = t.dims[0] * 4, base = g.dataStart + t.offset;
  const bytes = Buffer.from(g.bytes);
  const ra = Buffer.from(bytes.subarray(base + a * row, base + (a + 1) * row));
  bytes.copy(bytes, base + a * row, base + b * row, base + (b + 1) * row);
  ra.copy(bytes, base + b * row);
  writeFileSync(out, bytes);
}

async function chatStream(client, params) {
  let content = '', finishReason = null, usage = null, roles = 0;
  for await (const chunk of await client.chat.completions.create({ ...params, stream: true,
                                                                  stream_options: { include_usage: true } })) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta.role) roles++;
    content += choice.delta.content ?? '';
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  assert.equal(roles, 1);
  return { content, finishReason, usage };
}

for (const f of families) {
  const model = join(dir, f.vocab.replace('ggml-vocab-', ''));
  execFileSync(ladle, ['make-model', '--vocab', join(vocabDir, f.vocab), ...f.shape, '--preset', 'tiny', '--seq-len', '512',
                       '--unshared-classifier', '--seed', '7', '--out', model], { stdio: ['ignore', 'ignore', 'inherit'] });
  const vocab = readGguf(model).kv.get('tokenizer.ggml.tokens');
  const eot = vocab.indexOf(f.eot);
  assert.ok(eot >= 0, `${f.eot} is in the vocabulary`);
  const flags = ['--threads', '1', ...(f.template ? ['--chat-template', f.template] : [])];
  const base = { model: 'm', messages, temperature: 0 };
  let firstToken = -1;
  {
    const { child, url } = await startServer(ladle, { model, flags });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    const ref = referenceTokens(model, f.template);
    await check(`${f.name}: chat streamed through the SDK`, async () => {
      const { content, finishReason, usage } = await chatStream(client, { ...base, max_tokens: 12 });
      assert.equal(finishReason, 'length');
      assert.equal(usage.completion_tokens, 12);
      assert.ok(!content.includes(f.eot) && !content.includes('<|'), `no special token text in ${JSON.stringify(content)}`);
      const full = await client.chat.completions.create({ ...base, max_tokens: 12 });
      assert.equal(full.choices[0].message.content, content, 'streamed and not give the same greedy text');
      assert.equal(usage.prompt_tokens, ref.ids.length, 'the prompt is the rendered template\'s tokens');
    });
    await check(`${f.name}: the served prompt is render-chat's, tokenized`, async () => {
      const r = await fetch(`${url}/tokenize`, { method: 'POST', body: JSON.stringify({ messages }) });
      assert.equal(r.status, 200);
      const { tokens } = await r.json();
      assert.deepEqual(tokens, ref.ids);
      if (f.bos) {  // the template writes BOS and the tokenizer adds one: one BOS, as llama.cpp
        const bos = vocab.indexOf(f.bos);
        assert.ok(ref.rendered.startsWith(f.bos));
        assert.equal(tokens[0], bos);
        assert.notEqual(tokens[1], bos);
      } else {
        assert.ok(ref.rendered.startsWith('<|im_start|>system\nYou are terse.<|im_end|>\n'), ref.rendered);
      }
      assert.ok(tokens.includes(eot), 'the template\'s end-of-turn texts are special tokens');
    });
    const post = (path, body) => fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
    await check(`${f.name}: Messages and Responses render the conversation with the same template`, async () => {
      const count = await post('/v1/messages/count_tokens', { model: 'm', system: messages[0].content, messages: [messages[1]] });
      assert.equal(count.input_tokens, ref.ids.length, JSON.stringify(count));
      const r = await post('/v1/responses', { model: 'm', instructions: messages[0].content, input: messages[1].content,
                                              max_output_tokens: 1, temperature: 0 });
      assert.equal(r.usage.input_tokens, ref.ids.length, JSON.stringify(r.usage));
    });
    await check(`${f.name}: /tokenize and /detokenize round-trip text through the byte-level BPE`, async () => {
      const text = ' Hello 日本語 🦙 naïve';
      const { tokens } = await post('/tokenize', { content: text, add_special_tokens: false });
      assert.equal((await post('/detokenize', { tokens })).content, text);
      // Special tokens print nothing (as in a stream): the conversation's ids give its words only.
      const { tokens: chat } = await post('/tokenize', { messages });
      const back = (await post('/detokenize', { tokens: chat })).content;
      assert.ok(back.includes(messages[1].content) && !back.includes('<|'), back);
    });
    await check(`${f.name}: the greedy first token is known (and is not the end of turn)`, async () => {
      const one = await client.chat.completions.create({ ...base, max_tokens: 1, logprobs: true });
      const bytes = one.choices[0].logprobs.content[0].bytes;
      firstToken = vocab.indexOf(spellBytes(bytes));
      assert.ok(firstToken >= 0, `the token of bytes ${bytes} is in the vocabulary`);
      assert.notEqual(firstToken, eot);
    });
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
  if (firstToken < 0) continue;
  const swapped = model.replace('.gguf', '-eot.gguf');
  swapClassifierRows(model, swapped, firstToken, eot);
  const { child, url } = await startServer(ladle, { model: swapped, flags });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  await check(`${f.name}: generation stops at ${f.eot}, which is not streamed`, async () => {
    const { content, finishReason, usage } = await chatStream(client, { ...base, max_tokens: 12 });
    assert.equal(finishReason, 'stop');
    assert.equal(content, '');
    assert.equal(usage.completion_tokens, 1);
  });
  await check(`${f.name}: with ignore_eos it goes on, and ${f.eot} prints nothing`, async () => {
    const { content, finishReason, usage } = await chatStream(client, { ...base, max_tokens: 6, ignore_eos: true });
    assert.equal(finishReason, 'length');
    assert.equal(usage.completion_tokens, 6);
    assert.ok(!content.includes(f.eot), JSON.stringify(content));
  });
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
}
finish();
