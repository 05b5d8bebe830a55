// One session's dashboard: the diagrams following live data (WebSocket snapshots + deltas,
// applied in requestAnimationFrame batches; REST /diagram.svg polling when no WebSocket
// server answers), pause/resume follow, zoom to a time range (REST), row filters, the totals
// table and the downloads.

import { ApiError, download, getJson, getToken, request, sessionPath, type Session } from './api';
import { DiagramView, type DeltaItem } from './diagram';
import { fmtBytes, fmtCount, fmtTime, h, stateBadge } from './dom';
import { LiveLink } from './live';
import { TotalsTable } from './totals';

export const KINDS: { kind: string; title: string }[] = [
  { kind: 'grid', title: 'Labels and threads' },
  { kind: 'caps', title: 'Capabilities' },
  { kind: 'gc', title: 'GC pauses' },
  { kind: 'heap', title: 'Heap' },
  { kind: 'heapprof', title: 'Heap profile' },
  { kind: 'sparks', title: 'Sparks' },
];
const WIDTH = 1200; /* the server's default width: REST and WebSocket diagrams share ids */
const FRAME_BUDGET_MS = 10;
const SHOWN_KEY = 'liveprof-diagrams';
const POLL_MS = 1000; /* session metadata (and REST diagrams without a WebSocket) */
const TOTALS_EVERY_MS = 3000; /* totals while ingesting: they cost the server a report */

interface Pending {
  diagram: string;
  seq: bigint;
  items: DeltaItem[];
  fromNs: number;
  toNs: number;
}

const isLive = (state: string): boolean => state === 'ingesting' || state === 'live';

export function dashboardPage(root: HTMLElement, id: string): () => void {
  const views = new Map<string, DiagramView>();
  const cards = new Map<string, HTMLElement>();
  let shown: string[] = (() => {
    try {
      const v = JSON.parse(localStorage.getItem(SHOWN_KEY) ?? 'null');
      if (Array.isArray(v) && v.length) return v.filter((k) => KINDS.some((x) => x.kind === k));
    } catch {
      /* default below */
    }
    return KINDS.map((k) => k.kind);
  })();
  let session: Session | null = null;
  let following = true;
  let zoom: { from: number; to: number } | null = null;
  let mode: 'ws' | 'poll' = 'ws';
  let wsHasData = false;
  let disposed = false;
  let pending: Pending[] = [];
  let raf = 0;
  let applied = 0;
  let linkDetail = '';

  /* ---- header and toolbar ---- */
  const title = h('h1', { class: 'session-title' }, '…');
  const badge = h('span', { id: 'session-state' });
  const stats = h('span', { class: 'muted', id: 'session-stats' });
  const linkStatus = h('span', { class: 'chip', id: 'link-status' }, 'connecting');
  const followBtn = h('button', { id: 'follow', title: 'Stop or restart following the live end' }, 'Pause');
  const fromIn = h('input', { type: 'number', id: 'zoom-from', step: 'any', min: '0', placeholder: 'from ms' });
  const toIn = h('input', { type: 'number', id: 'zoom-to', step: 'any', min: '0', placeholder: 'to ms' });
  const zoomBtn = h('button', { id: 'zoom-apply' }, 'Zoom');
  const resetBtn = h('button', { id: 'zoom-reset', disabled: true }, 'Whole run');
  const labelsIn = h('input', { type: 'search', id: 'filter-labels', placeholder: 'labels (regex)' });
  const threadsIn = h('input', { type: 'search', id: 'filter-threads', placeholder: 'threads (regex)' });
  const filterMsg = h('span', { class: 'error-text' });
  const msg = h('div', { class: 'msg', id: 'dash-msg', role: 'status' });
  const totals = new TotalsTable(id);
  const eventlogLink = h('a', { href: sessionPath(id, '/eventlog'), id: 'download-eventlog', class: 'button' }, 'eventlog');
  const totalsLink = h('a', { href: sessionPath(id, '/totals.txt'), id: 'download-totals', class: 'button' }, 'totals.txt');
  const chips = h('div', { class: 'chips', id: 'diagram-toggles' });
  const grid = h('div', { class: 'diagrams' });

  for (const { kind, title: t } of KINDS) {
    const view = new DiagramView(kind);
    views.set(kind, view);
    const dl = h('button', { class: 'small', 'data-download': kind, title: 'Download this diagram as SVG' }, 'SVG');
    dl.addEventListener('click', () => saveSvg(kind));
    const card = h(
      'section',
      { class: 'card diagram-card', id: `diagram-${kind}`, 'data-kind': kind },
      h('header', { class: 'card-head' }, h('h2', {}, t), h('span', { class: 'muted range' }), dl),
      view.host,
    );
    attachBrush(view, card);
    cards.set(kind, card);
    grid.append(card);
    const cb = h('input', { type: 'checkbox', checked: shown.includes(kind), 'data-kind': kind });
    cb.addEventListener('change', () => {
      shown = KINDS.map((k) => k.kind).filter((k) => (k === kind ? cb.checked : shown.includes(k)));
      localStorage.setItem(SHOWN_KEY, JSON.stringify(shown));
      layout();
      link.subscribe();
      if (cb.checked) void fetchRest([kind]);
    });
    chips.append(h('label', { class: 'chip toggle' }, cb, t));
  }

  function layout(): void {
    for (const [kind, card] of cards) card.hidden = !shown.includes(kind);
  }

  function setMsg(text: string): void {
    msg.textContent = text;
  }

  function rangeNote(view: DiagramView): void {
    const el = cards.get(view.kind)?.querySelector('.range');
    if (el && view.toNs > view.fromNs) el.textContent = `${fmtTime(view.fromNs)} – ${fmtTime(view.toNs)}`;
  }

  /* ---- live data ---- */
  function flush(budget: number): void {
    const t0 = performance.now();
    let i = 0;
    for (; i < pending.length; i++) {
      const p = pending[i]!;
      const v = views.get(p.diagram);
      if (v && v.svg && p.seq > v.seq) {
        applied += v.apply(p.items);
        v.seq = p.seq;
        rangeNote(v);
      }
      if (performance.now() - t0 > budget) {
        i++;
        break;
      }
    }
    pending = pending.slice(i);
    root.dataset.applied = String(applied);
  }

  function frame(): void {
    raf = 0;
    flush(FRAME_BUDGET_MS);
    if (pending.length) raf = requestAnimationFrame(frame);
  }

  const link = new LiveLink(
    id,
    getToken,
    () => shown,
    {
      snapshot(diagram, seq, svg) {
        const v = views.get(diagram);
        if (!v || zoom) return;
        pending = pending.filter((p) => p.diagram !== diagram || p.seq > seq);
        if (v.setDocument(svg, seq)) {
          wsHasData = true;
          rangeNote(v);
          root.dataset.snapshots = String(Number(root.dataset.snapshots ?? 0) + 1);
        }
      },
      delta(diagram, seq, items, fromNs, toNs) {
        if (zoom) return;
        pending.push({ diagram, seq, items, fromNs, toNs });
        if (!raf) raf = requestAnimationFrame(frame);
      },
      state(state, bytes, events) {
        if (session) {
          session = { ...session, state: state as Session['state'], bytes_ingested: bytes, events };
          showSession();
        }
      },
      status(s, detail) {
        if (s === 'open') mode = 'ws';
        else if (s === 'unavailable') mode = 'poll';
        linkDetail = s === 'closed' && mode === 'ws' ? 'reconnecting' : (detail ?? '');
        showLink();
      },
    },
  );

  /* ---- REST ---- */
  async function fetchRest(kinds: string[] = shown): Promise<void> {
    await Promise.all(
      kinds.map(async (kind) => {
        if (!zoom && following && mode === 'ws' && wsHasData) return; /* the WebSocket owns it */
        const q = new URLSearchParams({ kind, width: String(WIDTH) });
        if (zoom) {
          q.set('from', String(Math.round(zoom.from)));
          q.set('to', String(Math.round(zoom.to)));
        }
        try {
          const svg = await (await request(sessionPath(id, `/diagram.svg?${q}`))).text();
          const v = views.get(kind)!;
          if (!disposed && v.setDocument(svg, v.seq)) rangeNote(v);
        } catch (e) {
          setMsg(`${kind}: ${(e as Error).message}`);
        }
      }),
    );
    root.dataset.restLoads = String(Number(root.dataset.restLoads ?? 0) + 1);
  }

  function showSession(): void {
    if (!session) return;
    title.textContent = session.name || session.id;
    badge.replaceChildren(stateBadge(session.state));
    /* bytes_ingested waits for the disk's first commit, events do not: no "0 B" beside them */
    const bytes = session.bytes_ingested || !session.events ? `${fmtBytes(session.bytes_ingested)} · ` : '';
    stats.textContent = `${bytes}${fmtCount(session.events)} events · ${session.visibility}`;
    if (session.state === 'failed' && session.error) setMsg(`Ingestion failed: ${session.error}`);
    root.dataset.state = session.state;
    showLink();
  }

  /** The chip saying where the diagrams come from now. */
  function showLink(): void {
    const live = session ? isLive(session.state) : true;
    let text: string, cls: string;
    if (zoom) [text, cls] = ['zoomed', 'chip'];
    else if (!following) [text, cls] = ['paused', 'chip'];
    else if (linkDetail === 'reconnecting') [text, cls] = ['reconnecting…', 'chip warn'];
    else if (mode === 'ws') [text, cls] = [live ? 'live · WebSocket' : 'complete · WebSocket', live ? 'chip ok' : 'chip'];
    else [text, cls] = [live ? 'live · polling' : 'complete', live ? 'chip warn' : 'chip'];
    linkStatus.textContent = text;
    linkStatus.className = cls;
    linkStatus.title = mode === 'poll' ? `WebSocket unavailable (${linkDetail || 'no answer'}): REST polling` : '';
    root.dataset.mode = mode;
  }

  let lastState = '';
  let lastEvents = -1;
  let lastTotals = 0;
  let unreachable = false; /* the last poll failed, and the message says so */
  /** One poll: the session's metadata, then (when it changed) totals and REST diagrams. The
   * next poll is scheduled only when this one is over, so a slow server is never piled on. */
  async function tick(): Promise<void> {
    try {
      session = await getJson<Session>(sessionPath(id));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) gone(e.status);
      else {
        unreachable = true;
        setMsg(`Cannot load the session (${(e as Error).message}); trying again`);
      }
      return;
    }
    if (unreachable) setMsg('');
    unreachable = false;
    showSession();
    const changed = session.state !== lastState || session.events !== lastEvents;
    const stateChanged = session.state !== lastState;
    const settledNow = lastState !== '' && isLive(lastState) && !isLive(session.state);
    lastState = session.state;
    lastEvents = session.events;
    const now = performance.now();
    if (stateChanged || (changed && now - lastTotals > TOTALS_EVERY_MS)) {
      lastTotals = now;
      await totals.refresh().catch((e) => setMsg(`totals: ${(e as Error).message}`));
    }
    if (zoom || !following) return;
    if ((mode === 'poll' || !wsHasData) && changed) await fetchRest();
    else if (settledNow) await fetchRest();
  }

  /** The session cannot be shown any more (or never could): stops polling and the link, and
   * says why instead of the dashboard. */
  function gone(status: number): void {
    const text =
      status === 401
        ? 'The server no longer accepts your token: sign in again.'
        : session
          ? 'This session is gone: it was deleted, or its owner made it private.'
          : `No session ${id} here: it was deleted, it is private to another user, or the link is wrong.`;
    stop();
    if (!session) title.textContent = status === 401 ? 'Session' : 'No such session';
    root.replaceChildren(
      h('div', { class: 'dash-head' }, h('a', { href: '#/', class: 'back' }, '← Sessions'), title),
      h('div', { class: 'card notice', id: 'dash-gone', role: 'alert' }, text),
    );
    root.dataset.gone = String(status);
  }

  function stop(): void {
    disposed = true;
    clearTimeout(timer);
    cancelAnimationFrame(raf);
    link.stop();
  }

  let timer = 0;
  async function loop(): Promise<void> {
    if (!document.hidden) await tick();
    if (!disposed) timer = window.setTimeout(() => void loop(), POLL_MS);
  }

  /* ---- controls ---- */
  function setFollow(on: boolean): void {
    following = on;
    followBtn.textContent = on ? 'Pause' : 'Follow';
    followBtn.classList.toggle('primary', !on);
    root.dataset.following = String(on);
    if (on) {
      zoom = null;
      resetBtn.disabled = true;
      link.resync();
      void fetchRest();
    } else {
      flush(Infinity);
      link.stop();
    }
    showLink();
  }
  followBtn.addEventListener('click', () => setFollow(!following));

  function zoomTo(fromNs: number, toNs: number): void {
    if (!(toNs > fromNs)) {
      setMsg('Zoom: "to" must be after "from".');
      return;
    }
    zoom = { from: fromNs, to: toNs };
    fromIn.value = String(+(fromNs / 1e6).toFixed(3));
    toIn.value = String(+(toNs / 1e6).toFixed(3));
    resetBtn.disabled = false;
    if (following) setFollow(false);
    showLink();
    pending = [];
    setMsg('');
    void fetchRest();
  }
  zoomBtn.addEventListener('click', () => zoomTo(Number(fromIn.value) * 1e6, Number(toIn.value) * 1e6));
  resetBtn.addEventListener('click', () => {
    fromIn.value = '';
    toIn.value = '';
    setFollow(true);
  });

  function compile(s: string): RegExp | null {
    if (!s.trim()) return null;
    return new RegExp(s, 'i');
  }
  function applyFilters(): void {
    try {
      const f = { labels: compile(labelsIn.value), threads: compile(threadsIn.value) };
      filterMsg.textContent = '';
      views.get('grid')!.setFilters(f);
    } catch (e) {
      filterMsg.textContent = (e as Error).message;
    }
  }
  labelsIn.addEventListener('input', applyFilters);
  threadsIn.addEventListener('input', applyFilters);

  /** File name stem for downloads: the session's name without ".eventlog". */
  const base = (): string => (session?.name || id).replace(/\.eventlog$/, '');

  function saveSvg(kind: string): void {
    const text = views.get(kind)!.serialize();
    const a = h('a', {
      href: URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' })),
      download: `${base()}.${kind}.svg`,
    });
    document.body.append(a);
    a.click();
    a.remove();
  }

  for (const [a, file] of [
    [totalsLink, () => `${base()}.totals.txt`],
    [eventlogLink, () => `${base()}.eventlog`],
  ] as const) {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      download(a.getAttribute('href')!, file()).catch((err) => setMsg(`Download failed: ${(err as Error).message}`));
    });
  }

  /** Drag across a diagram's plot to zoom to that time range. */
  function attachBrush(view: DiagramView, card: HTMLElement): void {
    const sel = h('div', { class: 'brush', hidden: true });
    view.host.append(sel);
    let start: { x: number; ns: number } | null = null;
    const nsAt = (clientX: number): { x: number; ns: number } | null => {
      const svg = view.svg;
      const axis = svg?.querySelector('#time-axis path')?.getAttribute('d');
      const m = axis && /^M([\d.]+),[\d.]+H([\d.]+)/.exec(axis);
      if (!svg || !m || !(view.toNs > view.fromNs)) return null;
      const r = svg.getBoundingClientRect();
      const scale = r.width / Number(svg.getAttribute('width'));
      const x0 = Number(m[1]) * scale + r.left,
        x1 = Number(m[2]) * scale + r.left;
      const x = Math.min(x1, Math.max(x0, clientX));
      return { x: x - view.host.getBoundingClientRect().left, ns: view.fromNs + ((x - x0) / (x1 - x0)) * (view.toNs - view.fromNs) };
    };
    view.host.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      start = nsAt(e.clientX);
      if (!start) return;
      view.host.setPointerCapture(e.pointerId);
      sel.hidden = false;
      sel.style.left = `${start.x}px`;
      sel.style.width = '0px';
    });
    view.host.addEventListener('pointermove', (e) => {
      if (!start) return;
      const p = nsAt(e.clientX);
      if (!p) return;
      sel.style.left = `${Math.min(start.x, p.x)}px`;
      sel.style.width = `${Math.abs(p.x - start.x)}px`;
    });
    view.host.addEventListener('pointerup', (e) => {
      if (!start) return;
      const p = nsAt(e.clientX);
      sel.hidden = true;
      const s = start;
      start = null;
      if (p && Math.abs(p.x - s.x) > 4) zoomTo(Math.min(s.ns, p.ns), Math.max(s.ns, p.ns));
    });
    card.title = 'Drag across the plot to zoom';
  }

  root.replaceChildren(
    h(
      'div',
      { class: 'dash-head' },
      h('a', { href: '#/', class: 'back' }, '← Sessions'),
      title,
      badge,
      stats,
      h('span', { class: 'spacer' }),
      linkStatus,
    ),
    h(
      'div',
      { class: 'toolbar card' },
      h('div', { class: 'group' }, followBtn),
      h('div', { class: 'group' }, h('span', { class: 'label' }, 'Range (ms)'), fromIn, toIn, zoomBtn, resetBtn),
      h('div', { class: 'group' }, h('span', { class: 'label' }, 'Filter rows'), labelsIn, threadsIn, filterMsg),
      h('div', { class: 'group' }, h('span', { class: 'label' }, 'Download'), totalsLink, eventlogLink),
      chips,
    ),
    msg,
    grid,
    totals.el,
  );
  layout();
  root.dataset.following = 'true';
  link.start();
  void loop();
  (window as unknown as Record<string, unknown>).__liveprof = { views, link, flush };

  return stop;
}
