// One diagram on the page: holds the server's SVG document, an index of its elements by id,
// and applies deltas (add / update / remove by element id) in place. The page never draws:
// every element comes from the server, whole (snapshot) or one element at a time (delta).
// Row filters only hide rows of the grid and close the gaps they leave, through inline CSS
// (display, transform, aspect-ratio) that no server attribute ever touches. Grid cells carry
// their exact values in data attributes (no <title> per cell), and so do the charts' bins: the
// page shows them in a tip on hover.

export interface DeltaItem {
  op: 'add' | 'update' | 'remove';
  id: string;
  parent: string;
  svg: string;
  // splice: replace `cut` characters of the current value from `at` by `value` (ASCII values)
  attrs: { name: string; value: string; remove: boolean; splice: { at: number; cut: number } | null }[];
  before: string;
}

export interface Filters {
  labels: RegExp | null;
  threads: RegExp | null;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A time in ns as the diagrams label it: "1.5 s", "250 ms", "12 µs". */
function fmtNs(ns: number): string {
  if (ns >= 1e9) return `${+(ns / 1e9).toFixed(6)} s`;
  if (ns >= 1e6) return `${+(ns / 1e6).toFixed(6)} ms`;
  if (ns >= 1e3) return `${+(ns / 1e3).toFixed(3)} µs`;
  return `${Math.round(ns)} ns`;
}

function fmtValue(v: number, unit: string): string {
  if (unit !== 'B') return String(v);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0,
    x = v;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u ? `${v} B = ${x.toFixed(1)} ${units[u]}` : `${v} B`;
}

/** Sums the shares in the data-q ("bin:q ...") of the elements matched by `sel` under `root`. */
function sumShares(root: Element, sel: string): number {
  let total = 0;
  for (const p of Array.from(root.querySelectorAll(sel)))
    for (const c of (p.getAttribute('data-q') ?? '').split(' ')) total += Number(c.split(':')[1] ?? 0);
  return total;
}

/** The tooltip of a diagram element at user x, from the data attributes the server writes
 * instead of per-element <title>s (docs/websocket.md): grid cells and capability bars (paths
 * of "bin:q" pairs in data-q, one subpath "Mx,y h w..." each), grid row and lane names (sums
 * of their shares), GC bars (data-q, data-n), the charts' hover areas (data-b, data-v named by
 * #hover-rows) and the "now" line; '' for anything else. */
export function tipText(el: Element, x: number, svg: SVGSVGElement): string {
  const num = (name: string): number => Number(svg.getAttribute(name) ?? 0);
  const binNs = num('data-bin-ns');
  const prov = num('data-provisional-from-ns');
  const range = (b: number): string =>
    `[${fmtNs(b * binNs)}, ${fmtNs((b + 1) * binNs)})${(b + 1) * binNs > prov ? ' (provisional)' : ''}`;
  const share = (v: number): string => `${v} (${fmtNs(Math.round(v * binNs))})`;
  if (el.id === 'now') return `now: ${fmtNs(num('data-now-ns'))}`;
  const row = el.closest('g.row');
  const lane = el.closest('g.lane');
  if (row && el.localName === 'text') return `${el.textContent}: ${fmtNs(Math.round(sumShares(row, 'path[data-q]') * binNs))} in range`;
  if (lane && el.localName === 'text') {
    const id = lane.id;
    const parts = ['running', 'gc', 'idle'].map((st) => [st, sumShares(lane, `path[id^="${id}-${st}-"]`)] as const);
    const seen = parts.reduce((n, [, v]) => n + v, 0);
    if (!seen) return `${el.textContent}: no data`;
    return `${el.textContent}: ${parts.map(([st, v]) => `${st} ${((100 * v) / seen).toFixed(2)}%`).join(', ')} (${fmtNs(Math.round(seen * binNs))} seen)`;
  }
  const q = el.getAttribute('data-q');
  if (q !== null && el.hasAttribute('d')) {
    const name = row
      ? (row.querySelector('text')?.textContent ?? '')
      : `${lane?.querySelector('text')?.textContent ?? ''} ${/-([a-z]+)-s\d+$/.exec(el.id)?.[1] ?? ''}`;
    const cells = q.split(' ');
    const starts = (el.getAttribute('d') ?? '').split('M').slice(1);
    for (let i = 0; i < starts.length && i < cells.length; i++) {
      const m = /^([-\d.]+),[-\d.]+h([-\d.]+)/.exec(starts[i]!);
      if (!m || x < Number(m[1]) || x > Number(m[1]) + Number(m[2])) continue;
      const [b, v] = cells[i]!.split(':').map(Number) as [number, number];
      return `${name} ${range(b)}: ${share(v)}`;
    }
    return '';
  }
  if (q !== null) {
    const m = /-b(\d+)$/.exec(el.id);
    if (!m) return '';
    return `GC ${range(Number(m[1]))}: pause ${share(Number(q))}, ${el.getAttribute('data-n') ?? 0} GCs started`;
  }
  const vs = el.getAttribute('data-v');
  if (vs === null || !binNs) return '';
  const from = num('data-from-ns'),
    to = num('data-to-ns'),
    px = num('data-plot-x'),
    pw = num('data-plot-w');
  const b = Math.floor((from + ((x - px) / (pw || 1)) * (to - from)) / binNs);
  const bins = vs.split(',');
  const i = b - Number(el.getAttribute('data-b') ?? 0);
  if (i < 0 || i >= bins.length) return '';
  const rows = svg.querySelector('#hover-rows');
  const names = (rows?.getAttribute('data-names') ?? '').split('\n');
  const unit = rows?.getAttribute('data-unit') ?? '';
  const lines = bins[i]!.split(' ').map((v, k) => `${names[k] ?? ''}: ${fmtValue(Number(v), unit)}`);
  return [range(b), ...lines].join('\n');
}

/** Parses SVG element markup (one element per string) in one pass; returns them in order. */
function parseElements(markups: string[]): (Element | null)[] {
  const tpl = document.createElement('template');
  tpl.innerHTML = `<svg xmlns="${SVG_NS}">${markups.map((m) => `<g>${m}</g>`).join('')}</svg>`;
  const root = tpl.content.firstElementChild;
  const out: (Element | null)[] = [];
  if (!root) return markups.map(() => null);
  for (const g of Array.from(root.children)) out.push(g.firstElementChild);
  while (out.length < markups.length) out.push(null);
  return out;
}

export class DiagramView {
  readonly host: HTMLElement;
  svg: SVGSVGElement | null = null;
  seq = 0n;
  fromNs = 0;
  toNs = 0;
  private index = new Map<string, Element>();
  private rowsDirty = true;
  private rows: { el: SVGGElement; y: number; h: number; kind: string; name: string }[] = [];
  private filters: Filters = { labels: null, threads: null };

  constructor(readonly kind: string) {
    this.host = document.createElement('div');
    this.host.className = 'diagram-host';
    this.hoverTips();
  }

  /** Shows the exact values of the element under the pointer (tipText) in a tip beside it. */
  private hoverTips(): void {
    const tip = document.createElement('div');
    tip.className = 'diagram-tip';
    tip.hidden = true;
    this.host.addEventListener('mousemove', (e) => {
      const svg = this.svg;
      const el = e.target as Element | null;
      const ctm = svg?.getScreenCTM();
      if (!svg || !el || !ctm || !svg.contains(el)) {
        tip.hidden = true;
        return;
      }
      const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
      const text = tipText(el, p.x, svg);
      tip.hidden = !text;
      tip.textContent = text;
      const r = this.host.getBoundingClientRect();
      tip.style.left = `${e.clientX - r.left + 12}px`;
      tip.style.top = `${e.clientY - r.top + 14}px`;
      if (tip.parentNode !== this.host) this.host.append(tip);
    });
    this.host.addEventListener('mouseleave', () => (tip.hidden = true));
  }

  /** Replaces the whole diagram with a server-rendered SVG document (snapshot or REST). */
  setDocument(svgText: string, seq = 0n): boolean {
    /* The HTML parser builds the SVG elements directly in this document (no XML document to
     * import from): about twice as fast on big grids. */
    const tpl = document.createElement('template');
    tpl.innerHTML = svgText.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
    const root = tpl.content.firstElementChild;
    if (!root || root.namespaceURI !== SVG_NS || root.localName !== 'svg') return false;
    const svg = document.adoptNode(root) as SVGSVGElement;
    svg.classList.add('diagram');
    svg.setAttribute('preserveAspectRatio', 'xMinYMin slice');
    this.svg = svg;
    this.seq = seq;
    this.readRange();
    this.index.clear();
    this.indexTree(svg);
    this.rowsDirty = true;
    this.host.replaceChildren(svg);
    this.applyFilters();
    return true;
  }

  private readRange(): void {
    const svg = this.svg!;
    this.fromNs = Number(svg.getAttribute('data-from-ns') ?? 0);
    this.toNs = Number(svg.getAttribute('data-to-ns') ?? 0);
  }

  private indexTree(el: Element): void {
    if (el.id) this.index.set(el.id, el);
    for (const e of Array.from(el.querySelectorAll('[id]'))) this.index.set(e.id, e);
  }

  private unindexTree(el: Element): void {
    if (el.id && this.index.get(el.id) === el) this.index.delete(el.id);
    for (const e of Array.from(el.querySelectorAll('[id]')))
      if (this.index.get(e.id) === e) this.index.delete(e.id);
  }

  /** Number of elements with an id (for tests and the status line). */
  get size(): number {
    return this.index.size;
  }

  /** Applies one delta's items in order; returns how many touched an element. */
  apply(items: DeltaItem[]): number {
    const svg = this.svg;
    if (!svg) return 0;
    const markups: string[] = [];
    for (const it of items) if (it.svg && it.op !== 'remove') markups.push(it.svg);
    const parsed = markups.length ? parseElements(markups) : [];
    let k = 0,
      n = 0;
    for (const it of items) {
      const fresh = it.svg && it.op !== 'remove' ? (parsed[k++] ?? null) : null;
      const old = this.index.get(it.id);
      if (it.op === 'remove') {
        if (old && old !== svg) {
          this.unindexTree(old);
          old.remove();
          if (old.classList.contains('row')) this.rowsDirty = true;
          n++;
        }
        continue;
      }
      if (it.op === 'update' && old && (!fresh || old === svg)) {
        for (const a of it.attrs) {
          if (a.remove) old.removeAttribute(a.name);
          else if (a.splice) {
            const v = old.getAttribute(a.name) ?? '';
            old.setAttribute(a.name, v.slice(0, a.splice.at) + a.value + v.slice(a.splice.at + a.splice.cut));
          } else old.setAttribute(a.name, a.value);
        }
        n++;
        continue;
      }
      if (!fresh) continue;
      const el = document.adoptNode(fresh);
      if (old) {
        this.unindexTree(old);
        old.replaceWith(el);
      } else {
        const parent = (it.parent && this.index.get(it.parent)) || svg;
        const next = it.before ? this.index.get(it.before) : undefined;
        if (next && next.parentNode === parent) parent.insertBefore(el, next);
        else parent.append(el);
      }
      this.indexTree(el);
      n++;
      if (el.classList.contains('row') || el.classList.contains('section')) this.rowsDirty = true;
    }
    this.readRange();
    if (this.filters.labels || this.filters.threads) this.applyFilters();
    return n;
  }

  setFilters(f: Filters): void {
    this.filters = f;
    this.applyFilters();
  }

  /** Hides grid rows whose name does not match and moves the rows below up into the gaps;
   * the server's attributes stay as sent (rows keep their transform="translate(0,y)"). */
  private applyFilters(): void {
    const svg = this.svg;
    if (!svg || this.kind !== 'grid') return;
    const { labels, threads } = this.filters;
    const active = !!(labels || threads);
    if (this.rowsDirty) {
      this.rows = [];
      for (const el of Array.from(svg.querySelectorAll<SVGGElement>('g.row'))) {
        const kind = el.id.startsWith('labels-') ? 'labels' : el.id.startsWith('threads-') ? 'threads' : 'other';
        this.rows.push({ el, y: 0, h: 0, kind, name: el.querySelector('text')?.firstChild?.textContent ?? '' });
      }
      this.rowsDirty = false;
    }
    const yOf = (el: Element): number => {
      const m = /translate\(\s*[-\d.e]+[\s,]+([-\d.e]+)/.exec(el.getAttribute('transform') ?? '');
      return m ? Number(m[1]) : Number(el.getAttribute('y') ?? 0);
    };
    const hidden: { y: number; h: number }[] = [];
    let removed = 0;
    for (const r of this.rows) {
      r.y = yOf(r.el);
      r.h = Number(r.el.querySelector('rect')?.getAttribute('height') ?? 14);
      const re = r.kind === 'labels' ? labels : r.kind === 'threads' ? threads : null;
      const show = !re || re.test(r.name);
      r.el.style.display = show ? '' : 'none';
      if (!show) {
        hidden.push({ y: r.y, h: r.h });
        removed += r.h;
      }
    }
    const shiftAt = (y: number): number => {
      let sh = 0;
      for (const x of hidden) if (x.y < y) sh += x.h;
      return sh;
    };
    for (const r of this.rows) {
      const sh = shiftAt(r.y);
      r.el.style.transform = sh ? `translate(0px, ${r.y - sh}px)` : '';
    }
    for (const t of Array.from(svg.querySelectorAll<SVGTextElement>('text.section'))) {
      const sh = shiftAt(Number(t.getAttribute('y') ?? 0));
      t.style.transform = sh ? `translate(0px, ${-sh}px)` : '';
    }
    const w = Number(svg.getAttribute('width') ?? 0);
    const h = Number(svg.getAttribute('height') ?? 0);
    svg.style.aspectRatio = active && removed ? `${w} / ${Math.max(1, h - removed)}` : '';
    svg.dataset.visibleHeight = String(h - removed);
  }

  /** The diagram as a standalone SVG file (what the server sent, with the deltas applied). */
  serialize(): string {
    if (!this.svg) return '';
    const copy = this.svg.cloneNode(true) as SVGSVGElement;
    copy.classList.remove('diagram');
    if (!copy.getAttribute('class')) copy.removeAttribute('class');
    copy.removeAttribute('preserveAspectRatio');
    copy.removeAttribute('style');
    copy.removeAttribute('data-visible-height');
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
  }
}
