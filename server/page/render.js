// FrameRenderer: rendering decoupled from ingestion. push() only appends the text to a buffer and
// asks for an animation frame; once per frame everything buffered is appended to the answer as one
// new text node (the answer so far is never re-rendered), so however fast tokens stream in, the
// main thread does one small DOM append per frame and stays free for input.
//
// onPaint({text, arrivals, paintedAt, seq}) reports each frame's append: the arrival times of the
// chunks it painted, the time of the paint (performance.now() in the frame callback, after the
// append; the browser draws the frame right after its callbacks) and the last sequence number
// painted (background Responses resume from it).
export class FrameRenderer {
  constructor(target, onPaint) {
    this.target = target;
    this.onPaint = onPaint;
    this.pending = '';
    this.arrivals = [];
    this.seq = null;
    this.frame = 0;
    this.waiters = [];
  }

  push(text, arrival, seq) {
    this.pending += text;
    this.arrivals.push(arrival);
    if (seq !== null && seq !== undefined) this.seq = seq;
    this.frame ||= requestAnimationFrame(() => this.paint());
  }

  paint() {
    this.frame = 0;
    if (this.pending) {
      this.target.appendChild(document.createTextNode(this.pending));
      const painted = { text: this.pending, arrivals: this.arrivals, paintedAt: performance.now(), seq: this.seq };
      this.pending = '';
      this.arrivals = [];
      this.onPaint(painted);
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  // Resolves once everything pushed so far is painted. A hidden tab gets no frames: after a second
  // the rest is painted anyway.
  drain() {
    if (!this.frame) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      setTimeout(() => { if (this.frame) { cancelAnimationFrame(this.frame); this.paint(); } }, 1000);
    });
  }
}
