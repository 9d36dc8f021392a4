// The three ways an answer reaches the page. Each run*() streams one answer into `sink`:
//   sink.started(id)                    the response's id, once known
//   sink.text(text, arrival, seq)       new text, the performance.now() it arrived, its sequence
//                                       number (Responses only; else null)
//   sink.serverTtft(ms)                 the server's own TTFT for this request, when it says
//   sink.tokens(n)                      generated tokens, from the final usage
// and resolves with {status}: "stop"/"length"/"completed"/"incomplete"/"cancelled". `signal`
// (the Stop button) ends it: chat aborts the fetch (closing the connection cancels the request
// on the server), background Responses also POST .../cancel (the response belongs to the server,
// not the connection), the WebSocket sends response.cancel.
import { apiError, apiFetch, postJson } from './api.js';
import { readEvents, serverTtftOf } from './sse.js';
import { realtimeSession, resetRealtime } from './realtime.js';

// POST /v1/chat/completions, stream: true.
export async function runChat({ messages, settings, signal, sink }) {
  // ?server_timing=1: the server announces its own TTFT (": server-ttft-ms") before the first text.
  const res = await postJson('/v1/chat/completions?server_timing=1', {
    messages, max_tokens: settings.maxTokens, temperature: settings.temperature,
    ...(settings.seed === null ? {} : { seed: settings.seed }),
    stream: true, stream_options: { include_usage: true },
  }, { signal });
  if (!res.ok) throw await apiError(res);
  let status = 'incomplete';
  for await (const ev of readEvents(res.body)) {
    const ttft = serverTtftOf(ev);
    if (ttft !== null) sink.serverTtft(ttft);
    if (!ev.data || ev.data === '[DONE]') continue;
    const chunk = JSON.parse(ev.data);
    if (chunk.error) throw new Error(chunk.error.message);
    sink.started(chunk.id);
    if (chunk.usage) sink.tokens(chunk.usage.completion_tokens);
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) sink.text(choice.delta.content, ev.arrival, null);
    if (choice?.finish_reason) status = choice.finish_reason;
  }
  return { status };
}

// The Responses API's message items for a conversation.
function inputItems(messages) {
  return messages.map((m) => ({
    type: 'message', role: m.role,
    content: [{ type: m.role === 'assistant' ? 'output_text' : 'input_text', text: m.content }],
  }));
}

// POST /v1/responses with background: true, or with `resume` = {id, after} the same response's
// stream from after sequence number `after` (GET /v1/responses/{id}?stream=true&starting_after=N).
export async function runResponses({ messages, settings, signal, sink, resume = null }) {
  let id = resume?.id ?? null;
  const cancel = () => { if (id) postJson(`/v1/responses/${encodeURIComponent(id)}/cancel`, {}); };
  signal.addEventListener('abort', cancel, { once: true });
  const res = resume
    ? await apiFetch(`/v1/responses/${encodeURIComponent(resume.id)}?stream=true&starting_after=${resume.after}`,
      { signal })
    : await postJson('/v1/responses', {
      input: inputItems(messages), max_output_tokens: settings.maxTokens, temperature: settings.temperature,
      stream: true, background: true,
    }, { signal });
  if (!res.ok) throw await apiError(res);
  if (id) sink.started(id);
  let status = 'incomplete';
  for await (const ev of readEvents(res.body)) {
    if (!ev.data) continue;
    const e = JSON.parse(ev.data);
    switch (e.type) {
      case 'response.created':
        id = e.response.id;
        sink.started(id);
        if (signal.aborted) cancel();
        break;
      case 'response.output_text.delta': sink.text(e.delta, ev.arrival, e.sequence_number); break;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.cancelled':
        status = e.response.status;
        if (e.response.usage) sink.tokens(e.response.usage.output_tokens);
        break;
      case 'response.failed': throw new Error(e.response?.error?.message ?? 'the response failed');
      case 'error': throw new Error(e.message ?? e.error?.message ?? 'stream error');
      default: break;
    }
  }
  return { status };
}

// One answer over the page's WebSocket (GET /v1/realtime): the messages the server's conversation
// does not hold yet (all of them on a new socket, turns answered over SSE in between, then the
// user's new one) as conversation items, then response.create. A conversation the page cleared
// starts a new socket.
export async function runRealtime({ messages, settings, signal, sink }) {
  let session = await realtimeSession();
  if (session.known > messages.length - 1) {
    resetRealtime();
    session = await realtimeSession();
  }
  for (const m of messages.slice(session.known)) {
    session.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: m.role, content: [{ type: m.role === 'assistant' ? 'output_text' : 'input_text', text: m.content }] },
    });
  }
  session.known = messages.length;
  return new Promise((resolve, reject) => {
    let responseId = null;
    const stop = () => session.send({ type: 'response.cancel' });
    const off = session.listen((ev) => {
      switch (ev.type) {
        case 'response.created':
          responseId = ev.response.id;
          sink.started(responseId);
          if (signal.aborted) stop();
          break;
        case 'response.output_text.delta':
          if (!responseId || ev.response_id === responseId) sink.text(ev.delta, ev.arrival, null);
          break;
        case 'response.done':
          off();
          signal.removeEventListener('abort', stop);
          session.known += 1;  // its answer is part of the conversation now
          if (ev.response.usage) sink.tokens(ev.response.usage.output_tokens);
          resolve({ status: ev.response.status });
          break;
        case 'error': off(); resetRealtime(); reject(new Error(ev.error?.message ?? 'realtime error')); break;
        case 'closed': off(); reject(new Error('the WebSocket closed')); break;
        default: break;
      }
    });
    signal.addEventListener('abort', stop, { once: true });
    session.send({
      type: 'response.create',
      response: { max_output_tokens: settings.maxTokens, temperature: settings.temperature },
    });
  });
}
