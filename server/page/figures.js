// AnswerFigures: what this browser measured of one answer.
//   first paint    request sent → its first text painted (the TTFT a reader sees)
//   server         the server's own TTFT for the request (chat completions say it in a comment)
//   ITL p50/p95    gaps between consecutive arrivals of text (one SSE event or WebSocket message
//                  each; the server sends one per token unless the reader falls behind)
//   tokens/s       generated tokens (the final usage, else one per arrival) over first → last
//                  arrival
//   render delay   each chunk's arrival → the paint that showed it (p50/p95)

// Nearest-rank percentile of `xs` (0 < p ≤ 100), or null for none.
export function percentile(xs, p) {
  if (!xs.length) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export class AnswerFigures {
  constructor(sentAt) {
    this.sentAt = sentAt;
    this.arrivals = [];
    this.renderDelays = [];
    this.firstPaintAt = null;
    this.lastPaintAt = null;
    this.serverTtftMs = null;
    this.tokens = null;
    this.resumed = false;  // painted after a reload: no first paint of its own
  }

  arrived(t) { this.arrivals.push(t); }

  painted({ arrivals, paintedAt }) {
    this.firstPaintAt ??= paintedAt;
    this.lastPaintAt = paintedAt;
    for (const a of arrivals) this.renderDelays.push(paintedAt - a);
  }

  summary() {
    const a = this.arrivals;
    const gaps = a.slice(1).map((t, i) => t - a[i]);
    const span = a.length > 1 ? (a[a.length - 1] - a[0]) / 1000 : 0;
    const tokens = this.tokens ?? a.length;
    const firstPaint = this.resumed || this.firstPaintAt === null ? null : this.firstPaintAt - this.sentAt;
    return {
      firstPaint,
      serverTtft: this.serverTtftMs,
      paintLag: firstPaint !== null && this.serverTtftMs !== null ? firstPaint - this.serverTtftMs : null,
      itlP50: percentile(gaps, 50),
      itlP95: percentile(gaps, 95),
      tokensPerSecond: span > 0 ? (tokens - 1) / span : null,
      renderP50: percentile(this.renderDelays, 50),
      renderP95: percentile(this.renderDelays, 95),
      lastArrival: a.length ? a[a.length - 1] : null,
      firstPaintAt: this.firstPaintAt,
      arrivals: a.length,
    };
  }
}

const ms = (v) => (v === null ? '–' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);

// The figures as [label, value, title] cells for the line under an answer.
export function figureCells(s) {
  const cells = [];
  if (s.firstPaint !== null) cells.push(['first paint', ms(s.firstPaint), 'request sent → first text painted']);
  if (s.serverTtft !== null) {
    cells.push(['server TTFT', ms(s.serverTtft), 'the server\'s own time to first token']);
    cells.push(['paint lag', ms(s.paintLag), 'first paint minus server TTFT']);
  }
  cells.push(['ITL p50/p95', `${ms(s.itlP50)} / ${ms(s.itlP95)}`, 'gaps between text arrivals']);
  cells.push(['tokens/s', s.tokensPerSecond === null ? '–' : s.tokensPerSecond.toFixed(1), 'first → last arrival']);
  cells.push(['render delay p50/p95', `${ms(s.renderP50)} / ${ms(s.renderP95)}`, 'arrival → paint']);
  return cells;
}
