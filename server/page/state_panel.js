// The live panel of the server's state: GET /v1/server-state twice a second, drawn as a sparkline
// of running and waiting requests (the last 30 s) and a bar of KV cache usage.
import { apiFetch } from './api.js';

const SAMPLES = 60;
const PERIOD_MS = 500;

export class StatePanel {
  constructor(onState) {
    this.canvas = document.getElementById('spark');
    this.onState = onState;
    this.running = [];
    this.waiting = [];
    this.timer = 0;
  }

  start() {
    const tick = async () => {
      let delay = PERIOD_MS;
      try {
        const res = await apiFetch('/v1/server-state', { cache: 'no-store' }, { askKey: false });
        if (res.ok) this.update(await res.json());
        else if (res.status === 401) {  // a key is needed: the first answer asks for it
          document.getElementById('model').textContent = 'API key needed';
          delay = 5000;
        } else delay = 2000;
      } catch {
        delay = 2000;  // the server restarts or is gone; keep trying quietly
      }
      this.timer = setTimeout(tick, document.hidden ? 4 * delay : delay);
    };
    tick();
  }

  update(state) {
    this.onState(state);
    this.running.push(state.running);
    this.waiting.push(state.waiting);
    if (this.running.length > SAMPLES) { this.running.shift(); this.waiting.shift(); }
    document.getElementById('running').textContent = state.running;
    document.getElementById('waiting').textContent = state.waiting;
    const kv = Math.max(0, Math.min(1, state.kv_usage));
    document.getElementById('kv-bar').style.width = `${(kv * 100).toFixed(1)}%`;
    document.getElementById('kv-text').textContent =
      `${(kv * 100).toFixed(kv > 0 && kv < 0.1 ? 1 : 0)} % of ${state.kv_blocks_capacity} blocks`;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || c.width;
    const h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(h * ratio); }
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const top = Math.max(1, ...this.running, ...this.waiting);
    g.strokeStyle = '#e3e6ee';  // the zero line
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(0, h - 2.5);
    g.lineTo(w, h - 2.5);
    g.stroke();
    const line = (values, color) => {
      g.beginPath();
      values.forEach((v, i) => {
        const x = w - (values.length - 1 - i) * (w / (SAMPLES - 1));
        const y = h - 3 - (v / top) * (h - 6);
        if (i) g.lineTo(x, y); else g.moveTo(x, y);
      });
      g.strokeStyle = color;
      g.lineWidth = 1.6;
      g.stroke();
    };
    line(this.waiting, '#e8871e');
    line(this.running, '#1f4fd1');
  }
}
