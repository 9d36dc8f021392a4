// The page's one WebSocket to GET /v1/realtime (a text subset of OpenAI's Realtime API), opened on
// first use and reopened after it closes. The conversation lives on the server for as long as the
// socket does; `known` counts the page's messages it already holds (see runRealtime). With an API key it is offered as the subprotocol
// "openai-insecure-api-key.<key>" (a browser cannot set an Authorization header on a WebSocket),
// beside "realtime", which the server selects.
import { apiKey, wsUrl } from './api.js';

class RealtimeSession {
  constructor() {
    this.ws = null;
    this.ready = null;
    this.listeners = new Set();
    this.known = 0;
  }

  // Resolves once the server's session.created has arrived.
  connect() {
    this.ready ??= new Promise((resolve, reject) => {
      const key = apiKey();
      const ws = key ? new WebSocket(wsUrl('/v1/realtime'), ['realtime', `openai-insecure-api-key.${key}`])
        : new WebSocket(wsUrl('/v1/realtime'));
      let open = false;
      ws.onmessage = (m) => {
        const ev = JSON.parse(m.data);
        ev.arrival = performance.now();
        if (ev.type === 'session.created' && !open) { open = true; this.ws = ws; resolve(this); }
        for (const listener of [...this.listeners]) listener(ev);
      };
      ws.onclose = () => {
        this.ws = null;
        this.ready = null;
        this.known = 0;
        if (!open) reject(new Error('could not open the WebSocket (/v1/realtime)'));
        for (const listener of [...this.listeners]) listener({ type: 'closed' });
      };
    });
    return this.ready;
  }

  // Closes the socket: the server forgets the conversation; the next connect() starts a new one.
  reset() {
    this.ws?.close();
    this.ws = null;
    this.ready = null;
    this.known = 0;
  }

  send(event) {
    this.ws?.send(JSON.stringify(event));
  }

  // Calls `listener` with every server event until the returned function is called.
  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const session = new RealtimeSession();

export function realtimeSession() {
  return session.connect();
}

export function resetRealtime() {
  session.reset();
}
