// The built-in page: a chat with the served model. Wires the composer, the transports, the
// answers, the live server-state panel and the telemetry together, and keeps the conversation in
// sessionStorage so that a reload shows it again — and resumes a background answer that was still
// streaming from the last sequence number this page had painted.
//
// window.ladle exposes the answers and their figures to the browser test and the bench.
import { AnswerView, appendMessage, setRendererFactory } from './answer_view.js';
import { StatePanel } from './state_panel.js';
import { Telemetry } from './telemetry.js';
import { runChat, runRealtime, runResponses } from './transports.js';

const $ = (id) => document.getElementById(id);
const RUN = { chat: runChat, responses: runResponses, realtime: runRealtime };
const LABEL = { chat: 'chat · SSE', responses: 'responses · background', realtime: 'realtime · WebSocket' };
const CONVERSATION = 'ladle.conversation';
const PENDING = 'ladle.pending';  // {id, after, text}: a background answer not yet finished

const log = $('log');
const telemetry = new Telemetry($('telemetry'));
const answers = [];
let conversation = JSON.parse(sessionStorage.getItem(CONVERSATION) ?? '[]');
let controller = null;
const cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(e.violatedDirective));

function settings() {
  const seed = $('seed').value.trim();
  return {
    maxTokens: Number($('max-tokens').value) || 200,
    temperature: Number($('temperature').value) || 0,
    seed: seed === '' ? null : Number(seed),
  };
}

function saveConversation() {
  sessionStorage.setItem(CONVERSATION, JSON.stringify(conversation));
}

function setBusy(busy, text = '') {
  $('send').disabled = busy;
  $('stop').disabled = !busy;
  $('clear').disabled = busy;
  $('status').textContent = text;
}

// A background answer remembers how far it was painted, at every paint.
function rememberPainted(answer, painted) {
  sessionStorage.setItem(PENDING, JSON.stringify({ id: answer.id, after: painted.seq ?? -1, text: answer.text }));
}

// Streams one answer: `run(signal, sink)` is a transport call. Resolves when it is painted and done.
async function stream(answer, run, background) {
  answers.push(answer);
  controller = new AbortController();
  const signal = controller.signal;
  setBusy(true, 'streaming…');
  let status = 'failed';
  let error = null;
  if (background) {
    const started = answer.sink.started;
    answer.sink.started = (id) => {
      started(id);
      if (!sessionStorage.getItem(PENDING)) rememberPainted(answer, { seq: -1 });
    };
  }
  try {
    ({ status } = await run(signal, answer.sink));
  } catch (e) {
    if (signal.aborted) status = 'cancelled';
    else error = e;
  }
  await answer.finish(status, error);
  conversation.push({ role: 'assistant', content: answer.text });
  saveConversation();
  sessionStorage.removeItem(PENDING);
  controller = null;
  setBusy(false);
  answer.reported = telemetry.report(answer).catch(() => false);
}

async function send(text, transport = $('transport').value) {
  if (controller || !text.trim()) return;
  $('empty')?.remove();
  conversation.push({ role: 'user', content: text });
  saveConversation();
  appendMessage(log, 'user', text);
  const background = transport === 'responses';
  const answer = new AnswerView(log, {
    transport: LABEL[transport], sentAt: performance.now(), onPaint: background ? rememberPainted : null,
  });
  const messages = conversation.slice();
  await stream(answer, (signal, sink) => RUN[transport]({ messages, settings: settings(), signal, sink }), background);
}

function stop() {
  controller?.abort();
}

// After a reload: the conversation as it was, and a background answer resumed where it was painted.
function restore() {
  for (const m of conversation) appendMessage(log, m.role === 'user' ? 'user' : 'assistant', m.content);
  if (conversation.length) $('empty')?.remove();
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  if (!pending?.id) return;
  $('transport').value = 'responses';
  const answer = new AnswerView(log, {
    transport: `${LABEL.responses} · resumed`, sentAt: performance.now(), initialText: pending.text,
    onPaint: rememberPainted,
  });
  answer.id = pending.id;
  const resume = { id: pending.id, after: pending.after };
  stream(answer, (signal, sink) => runResponses({ messages: [], settings: settings(), signal, sink, resume }), true);
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('prompt').value;
  $('prompt').value = '';
  send(text);
});
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); }
});
$('stop').addEventListener('click', stop);
$('clear').addEventListener('click', () => {
  conversation = [];
  saveConversation();
  log.replaceChildren();
});
const transportParam = new URLSearchParams(location.search).get('transport');
if (transportParam in RUN) $('transport').value = transportParam;

new StatePanel((state) => {
  $('model').textContent = state.model ?? state.status;
  telemetry.setServerAccepts(state.client_telemetry);
}).start();
setBusy(false);
restore();

window.ladle = { answers, send, stop, setRendererFactory, cspViolations, get busy() { return controller !== null; } };
