// Browser side of bench/stage_web.sh: loads a synthetic grid of ROWS x BINS bins (a cell in
// DENSITY percent of them, as the server draws only non-empty bins, in the server's layout:
// paths per row and opacity level, 16 cells each) into the page's DiagramView (web/src/diagram.ts) and
// applies column deltas as the live feed sends them (the newest bin of every row changed, a new
// bin added: attribute updates of the level paths touched), timing
// each step.
import { DiagramView, type DeltaItem } from '../web/src/diagram';

const LEVELS = 20;
const level = (q: number): number => Math.min(LEVELS, Math.floor(q * LEVELS + 0.5));

/** A row's cells as lib/aggr_svg.c draws them: per opacity level, 16 cells (in bin order) to a
 * <path id="ROW-oLL-cJ"> with a subpath per cell and the exact "bin:q" values in data-q. */
class Row {
  cells = new Map<number, number>(); /* bin -> q */
  constructor(readonly r: number) {}
  /** The level's chunks: id -> markup. */
  paths(lv: number): Map<string, string> {
    const bins = [...this.cells.keys()].filter((b) => level(this.cells.get(b)!) === lv).sort((a, b) => a - b);
    const out = new Map<string, string>();
    for (let j = 0; j * 16 < bins.length; j++) {
      const part = bins.slice(j * 16, j * 16 + 16);
      const id = `threads-r${this.r}-o${String(lv).padStart(2, '0')}-c${j}`;
      const d = part.map((b) => `M${+(220 + b * 0.95).toFixed(2)},0h0.95v14h-0.95z`).join('');
      const q = part.map((b) => `${b}:${+this.cells.get(b)!.toPrecision(6)}`).join(' ');
      out.set(id, `<path id="${id}" d="${d}" fill="rgb(0,0,255)" fill-opacity="${(0.3 + (0.7 * lv) / LEVELS).toFixed(3)}" stroke="#000" stroke-width="0.1" data-q="${q}"/>`);
    }
    return out;
  }
  /** Sets cells and returns the delta items for the chunks that changed. */
  set(changes: [number, number][]): DeltaItem[] {
    const levels = new Set<number>();
    for (const [b, q] of changes) {
      const old = this.cells.get(b);
      if (old !== undefined) levels.add(level(old));
      levels.add(level(q));
    }
    const before = new Map<string, string>();
    for (const lv of levels) for (const [id, m] of this.paths(lv)) before.set(id, m);
    for (const [b, q] of changes) this.cells.set(b, q);
    const after = new Map<string, string>();
    for (const lv of levels) for (const [id, m] of this.paths(lv)) after.set(id, m);
    const items: DeltaItem[] = [];
    const attr = (m: string, n: string): string => new RegExp(` ${n}="([^"]*)"`).exec(m)![1]!;
    for (const id of before.keys()) if (!after.has(id)) items.push({ op: 'remove', id, parent: '', svg: '', attrs: [], before: '' });
    for (const [id, now] of after) {
      const was = before.get(id);
      if (was === now) continue;
      if (!was) items.push({ op: 'add', id, parent: `threads-r${this.r}`, svg: now, attrs: [], before: '' });
      else
        items.push({ op: 'update', id, parent: '', svg: '', before: '', attrs: [
          { name: 'd', value: attr(now, 'd'), remove: false },
          { name: 'data-q', value: attr(now, 'data-q'), remove: false },
        ] });
    }
    return items;
  }
}

function grid(rows: Row[], bins: number, density: number): string {
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="root" width="1200" height="${30 + rows.length * 14}" viewBox="0 0 1200 ${30 + rows.length * 14}" data-kind="grid" data-from-ns="0" data-to-ns="${bins * 1000000}" data-bin-ns="1000000">`);
  for (const row of rows) {
    const r = row.r;
    for (let b = 0; b < bins; b++) if ((r * 7 + b * 13) % 100 < density) row.cells.set(b, ((r * 3 + b) % 100) / 100 || 0.01);
    parts.push(`<g id="threads-r${r}" class="row" transform="translate(0,${30 + r * 14})"><rect id="threads-r${r}-shade" width="1200" height="14" fill="white"/><text id="threads-r${r}-name" x="4" y="10.5">worker-${r}:${r + 10}</text>`);
    for (let lv = 0; lv <= LEVELS; lv++) parts.push(...row.paths(lv).values());
    parts.push('</g>\n');
  }
  parts.push('</svg>');
  return parts.join('');
}

function pct(a: number[], p: number): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const frame = (): Promise<number> => new Promise((r) => requestAnimationFrame(r));

export async function run(rows: number, bins: number, density: number, deltas: number): Promise<Record<string, number>> {
  const host = document.getElementById('host')!;
  const view = new DiagramView('grid');
  host.append(view.host);
  const rowsOf = Array.from({ length: rows }, (_, r) => new Row(r));
  const text = grid(rowsOf, bins, density);
  let t = performance.now();
  view.setDocument(text);
  await frame();
  const snapshotMs = performance.now() - t;
  const apply: number[] = [];
  const frames: number[] = [];
  let deltaBytes = 0;
  let last = await frame();
  for (let d = 0; d < deltas; d++) {
    const items: DeltaItem[] = [];
    const b = bins - 1 + d;
    for (const row of rowsOf) {
      items.push(...row.set([[b, 1], [b + 1, 0.1]]));
    }
    items.push({ op: 'update', id: 'root', parent: '', svg: '', attrs: [{ name: 'data-to-ns', value: String((b + 2) * 1000000), remove: false }], before: '' });
    for (const it of items) deltaBytes += it.id.length + it.svg.length + it.attrs.reduce((n, a) => n + a.name.length + a.value.length, 0);
    t = performance.now();
    view.apply(items);
    apply.push(performance.now() - t);
    const now = await frame();
    frames.push(now - last);
    last = now;
  }
  return {
    elements: view.size,
    svg_bytes: text.length,
    delta_bytes: deltaBytes / deltas,
    snapshot_ms: snapshotMs,
    apply_p50_ms: pct(apply, 50),
    apply_p99_ms: pct(apply, 99),
    frame_p50_ms: pct(frames, 50),
    frame_p99_ms: pct(frames, 99),
  };
}

(window as unknown as Record<string, unknown>).benchRun = run;
