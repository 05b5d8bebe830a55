// One diagram on the page: holds the server's SVG document, an index of its elements by id,
// and applies deltas (add / update / remove by element id) in place. The page never draws:
// every element comes from the server, whole (snapshot) or one element at a time (delta).
// Row filters only hide rows of the grid and close the gaps they leave.

export interface DeltaItem {
  op: 'add' | 'update' | 'remove';
  id: string;
  parent: string;
  svg: string;
  attrs: { name: string; value: string; remove: boolean }[];
}

export interface Filters {
  labels: RegExp | null;
  threads: RegExp | null;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

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
  private baseHeight = 0;
  private rowsDirty = true;
  private rows: { el: SVGGElement; y: number; h: number; kind: string; name: string }[] = [];
  private filters: Filters = { labels: null, threads: null };

  constructor(readonly kind: string) {
    this.host = document.createElement('div');
    this.host.className = 'diagram-host';
  }

  /** Replaces the whole diagram with a server-rendered SVG document (snapshot or REST). */
  setDocument(svgText: string, seq = 0n): boolean {
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const root = doc.documentElement;
    if (root.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) return false;
    const svg = document.importNode(root, true) as unknown as SVGSVGElement;
    svg.classList.add('diagram');
    svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
    this.svg = svg;
    this.seq = seq;
    this.fromNs = Number(svg.getAttribute('data-from-ns') ?? 0);
    this.toNs = Number(svg.getAttribute('data-to-ns') ?? 0);
    this.baseHeight = Number(svg.getAttribute('height') ?? 0);
    this.index.clear();
    this.indexTree(svg);
    this.rowsDirty = true;
    this.host.replaceChildren(svg);
    this.applyFilters();
    return true;
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

  /** Applies one delta's items; returns how many touched an element. */
  apply(items: DeltaItem[], fromNs?: number, toNs?: number): number {
    const svg = this.svg;
    if (!svg) return 0;
    const markups: string[] = [];
    for (const it of items) if (it.svg && it.op !== 'remove') markups.push(it.svg);
    const parsed = markups.length ? parseElements(markups) : [];
    let k = 0,
      n = 0;
    for (const it of items) {
      const fresh = it.svg && it.op !== 'remove' ? parsed[k++] ?? null : null;
      const old = this.index.get(it.id);
      if (it.op === 'remove') {
        if (old) {
          this.unindexTree(old);
          old.remove();
          n++;
        }
        continue;
      }
      if (it.op === 'update' && old && !fresh) {
        for (const a of it.attrs) {
          if (a.remove) old.removeAttribute(a.name);
          else old.setAttribute(a.name, a.value);
        }
        if (old.id !== it.id) {
          this.index.delete(it.id);
          this.indexTree(old);
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
        parent.append(el);
      }
      this.indexTree(el);
      n++;
      if (el.classList.contains('row') || (old && old.classList.contains('row'))) this.rowsDirty = true;
    }
    if (fromNs !== undefined && toNs !== undefined && toNs > 0) {
      this.fromNs = fromNs;
      this.toNs = toNs;
    }
    const h = Number(svg.getAttribute('height') ?? 0);
    if (h !== this.baseHeight && !svg.hasAttribute('data-filtered-height')) this.baseHeight = h;
    if (this.rowsDirty && (this.filters.labels || this.filters.threads)) this.applyFilters();
    return n;
  }

  setFilters(f: Filters): void {
    this.filters = f;
    this.applyFilters();
  }

  /** Hides grid rows whose name does not match, moving the rows below up into the gaps. */
  private applyFilters(): void {
    const svg = this.svg;
    if (!svg || this.kind !== 'grid') return;
    if (this.rowsDirty) {
      this.rows = [];
      for (const el of Array.from(svg.querySelectorAll<SVGGElement>('g.row'))) {
        const bg = el.querySelector('rect');
        const label = el.querySelector('text');
        const kind = el.id.startsWith('labels-') ? 'labels' : el.id.startsWith('threads-') ? 'threads' : 'other';
        this.rows.push({
          el,
          y: Number(bg?.getAttribute('y') ?? 0),
          h: Number(bg?.getAttribute('height') ?? 0),
          kind,
          name: label?.firstChild?.textContent ?? '',
        });
      }
      this.rows.sort((a, b) => a.y - b.y);
      this.rowsDirty = false;
    }
    const { labels, threads } = this.filters;
    const hidden: { y: number; h: number }[] = [];
    let removed = 0;
    for (const r of this.rows) {
      const re = r.kind === 'labels' ? labels : r.kind === 'threads' ? threads : null;
      const show = !re || re.test(r.name);
      r.el.style.display = show ? '' : 'none';
      if (!show) {
        hidden.push({ y: r.y, h: r.h });
        removed += r.h;
      }
    }
    const shiftAt = (y: number): number => {
      let s = 0;
      for (const x of hidden) if (x.y < y) s += x.h;
      return s;
    };
    for (const r of this.rows) {
      const s = shiftAt(r.y);
      if (s) r.el.setAttribute('transform', `translate(0,${-s})`);
      else r.el.removeAttribute('transform');
    }
    for (const t of Array.from(svg.querySelectorAll<SVGTextElement>('text.section'))) {
      const s = shiftAt(Number(t.getAttribute('y') ?? 0));
      if (s) t.setAttribute('transform', `translate(0,${-s})`);
      else t.removeAttribute('transform');
    }
    const height = this.baseHeight - removed;
    const w = svg.getAttribute('width') ?? '0';
    if (removed) svg.setAttribute('data-filtered-height', String(height));
    else svg.removeAttribute('data-filtered-height');
    svg.setAttribute('viewBox', `0 0 ${w} ${height}`);
    svg.setAttribute('height', String(height));
  }

  /** The diagram as a standalone SVG file (what the server sent, with the deltas applied). */
  serialize(): string {
    if (!this.svg) return '';
    const copy = this.svg.cloneNode(true) as SVGSVGElement;
    copy.classList.remove('diagram');
    if (!copy.getAttribute('class')) copy.removeAttribute('class');
    copy.removeAttribute('preserveAspectRatio');
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
  }
}
