// Browser side of bench/stage_web.sh: loads a synthetic grid of ROWS x BINS bins (a cell in
// DENSITY percent of them, as the server draws only non-empty bins) into the
// page's DiagramView (web/src/diagram.ts) and applies column deltas as the live feed sends
// them (every cell of the newest bin updated, a new bin added), timing each step.
import { DiagramView, type DeltaItem } from '../web/src/diagram';

function cell(row: number, bin: number, q: number): string {
  const x = 220 + bin * 0.95;
  return `<rect id="threads-r${row}-b${bin}" x="${x.toFixed(2)}" width="0.95" height="14" fill="rgb(0,0,255)" fill-opacity="${(0.3 + 0.7 * q).toFixed(6)}" stroke="#000" stroke-width="0.1"><title>r${row} [${bin}]: ${q.toFixed(6)}</title></rect>`;
}

function grid(rows: number, bins: number, density: number): string {
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="root" width="1200" height="${30 + rows * 14}" viewBox="0 0 1200 ${30 + rows * 14}" data-kind="grid" data-from-ns="0" data-to-ns="${bins * 1000000}">`);
  for (let r = 0; r < rows; r++) {
    parts.push(`<g id="threads-r${r}" class="row" transform="translate(0,${30 + r * 14})"><rect id="threads-r${r}-shade" width="1200" height="14" fill="white"/><text id="threads-r${r}-name" x="4" y="10.5">worker-${r}:${r + 10}</text>`);
    for (let b = 0; b < bins; b++) if ((r * 7 + b * 13) % 100 < density) parts.push(cell(r, b, ((r * 3 + b) % 100) / 100));
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
  const text = grid(rows, bins, density);
  let t = performance.now();
  view.setDocument(text);
  await frame();
  const snapshotMs = performance.now() - t;
  const apply: number[] = [];
  const frames: number[] = [];
  let last = await frame();
  for (let d = 0; d < deltas; d++) {
    const items: DeltaItem[] = [];
    const b = bins - 1 + d;
    for (let r = 0; r < rows; r++) {
      items.push({ op: 'update', id: `threads-r${r}-b${b}`, parent: `threads-r${r}`, svg: cell(r, b, 1), attrs: [], before: '' });
      items.push({ op: 'add', id: `threads-r${r}-b${b + 1}`, parent: `threads-r${r}`, svg: cell(r, b + 1, 0.1), attrs: [], before: '' });
    }
    items.push({ op: 'update', id: 'root', parent: '', svg: '', attrs: [{ name: 'data-to-ns', value: String((b + 2) * 1000000), remove: false }], before: '' });
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
    snapshot_ms: snapshotMs,
    apply_p50_ms: pct(apply, 50),
    apply_p99_ms: pct(apply, 99),
    frame_p50_ms: pct(frames, 50),
    frame_p99_ms: pct(frames, 99),
  };
}

(window as unknown as Record<string, unknown>).benchRun = run;
