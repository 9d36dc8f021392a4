// Perceived-latency telemetry: after each answer the page reports what this browser measured —
// first paint and render delays — to POST /v1/telemetry, which exports them as the server's
// ladle_client_* histograms. On unless the reader unticks it, the page is opened with
// ?telemetry=0, or the server runs with --no-client-telemetry (its /v1/server-state says so).
import { postJson } from './api.js';

const MAX_SAMPLES = 512;  // the server's bound per report

// At most `n` of `xs`, evenly spaced (the distribution is kept, the report stays small).
function thin(xs, n) {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]);
}

export class Telemetry {
  constructor(checkbox) {
    this.checkbox = checkbox;
    this.serverAccepts = true;
    if (new URLSearchParams(location.search).get('telemetry') === '0') checkbox.checked = false;
  }

  // From /v1/server-state: whether the server takes reports at all.
  setServerAccepts(accepts) {
    this.serverAccepts = accepts;
    this.checkbox.disabled = !accepts;
    if (!accepts) this.checkbox.parentElement.title = 'this server runs with --no-client-telemetry';
  }

  // Reports a finished answer that was painted from its start (a resumed one has no first paint).
  async report(answer) {
    const s = answer.figures.summary();
    if (!this.checkbox.checked || !this.serverAccepts || !answer.id || s.firstPaint === null) return false;
    const round = (v) => Math.round(v * 100) / 100;
    const res = await postJson('/v1/telemetry', {
      response_id: answer.id,
      first_paint_ms: round(s.firstPaint),
      render_delay_ms: thin(answer.figures.renderDelays, MAX_SAMPLES).map(round),
    }, { keepalive: true });
    return res.ok;
  }
}
