// AnswerView: one assistant answer on the page — its text (painted by a FrameRenderer), a status
// badge and the line of figures measured for it, updated live while it streams. Its `sink` is
// what a transport streams into (see transports.js).
import { AnswerFigures, figureCells } from './figures.js';
import { FrameRenderer } from './render.js';

// How answers are painted; the bench swaps in a naive renderer to compare (bench/page/).
let makeRenderer = (target, onPaint) => new FrameRenderer(target, onPaint);
export function setRendererFactory(factory) { makeRenderer = factory; }

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Messages of the conversation other than streamed answers.
export function appendMessage(log, role, text) {
  const article = element('article', `msg ${role}`);
  article.append(element('div', 'who', role === 'user' ? 'You' : role), element('div', 'text', text));
  log.append(article);
  return article;
}

export class AnswerView {
  // `initialText`: text painted before a reload (a resumed background response).
  constructor(log, { transport, sentAt, initialText = '', onPaint = null }) {
    this.el = element('article', 'msg assistant streaming');
    const who = element('div', 'who', 'ladle');
    this.badge = element('span', 'badge', transport);
    who.append(' ', this.badge);
    this.textEl = element('div', 'text');
    if (initialText) this.textEl.append(initialText);
    this.figEl = element('div', 'figures');
    this.el.append(who, this.textEl, this.figEl);
    log.append(this.el);
    this.id = null;
    this.text = initialText;
    this.status = 'streaming';
    this.figures = new AnswerFigures(sentAt);
    this.figures.resumed = initialText !== '';
    this.onPaint = onPaint;
    this.figuresTimer = 0;
    this.renderer = makeRenderer(this.textEl, (p) => this.painted(p));
    this.sink = {
      started: (id) => { this.id = id; },
      text: (text, arrival, seq) => { this.figures.arrived(arrival); this.renderer.push(text, arrival, seq); },
      serverTtft: (ms) => { this.figures.serverTtftMs = ms; },
      tokens: (n) => { this.figures.tokens = n; },
    };
  }

  painted(p) {
    this.text += p.text;
    this.figures.painted(p);
    this.onPaint?.(this, p);
    // Live figures at most four times a second: they are for reading, not for every frame.
    this.figuresTimer ||= setTimeout(() => { this.figuresTimer = 0; this.drawFigures(); }, 250);
    const follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
    if (follow) window.scrollTo(0, document.body.scrollHeight);
  }

  // The answer ended (`status` as the transport reports it); resolves after its last paint.
  async finish(status, error = null) {
    await this.renderer.drain();
    this.status = status;
    this.el.classList.remove('streaming');
    this.el.classList.add(status === 'cancelled' ? 'cancelled' : error ? 'failed' : 'done');
    this.badge.textContent = `${this.badge.textContent} · ${error ? 'error' : status}`;
    if (error) this.el.append(element('div', 'error', error.message));
    clearTimeout(this.figuresTimer);
    this.drawFigures();
  }

  drawFigures() {
    this.figEl.replaceChildren(...figureCells(this.figures.summary()).map(([label, value, title]) => {
      const cell = element('span', 'figure');
      cell.title = title;
      cell.append(element('span', 'label', label), element('span', 'value', value));
      return cell;
    }));
  }
}
