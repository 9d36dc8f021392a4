// The naive way to render a stream, kept only for the bench to compare the page against: every
// chunk is written at once with `textContent +=` (the whole answer's text replaced per token, on
// the main thread, as it arrives). Its paint is the next animation frame after the write — the
// same point at which the page's FrameRenderer reports its own paints.
//
// installNaiveRenderer runs inside the page (puppeteer serializes it): it must stay self-contained.
export function installNaiveRenderer() {
  class NaiveRenderer {
    constructor(target, onPaint) {
      this.target = target;
      this.onPaint = onPaint;
      this.unpainted = 0;
      this.waiters = [];
    }

    push(text, arrival, seq) {
      this.target.textContent += text;
      this.unpainted++;
      requestAnimationFrame(() => {
        this.onPaint({ text, arrivals: [arrival], paintedAt: performance.now(), seq });
        if (--this.unpainted === 0) for (const resolve of this.waiters.splice(0)) resolve();
      });
    }

    drain() {
      return this.unpainted ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
    }
  }
  window.ladle.setRendererFactory((target, onPaint) => new NaiveRenderer(target, onPaint));
}
