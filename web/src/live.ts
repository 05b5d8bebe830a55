// The WebSocket link of one dashboard: connects to ws://HOST:WSPORT/ws?session=ID[&token=T],
// decodes the FlatBuffers messages of proto/ws.fbs, says Hello (last seq) and Subscribe,
// and hands snapshots, deltas and state changes to its owner. Reconnects with the last seq so
// the server can send what was missed (or a fresh snapshot).

import * as flatbuffers from 'flatbuffers';
import {
  Body,
  Delta,
  Error as WsError,
  Hello,
  Message,
  Op,
  Snapshot,
  State,
  Subscribe,
} from '../../build/web-gen/ws_generated';
import type { DeltaItem } from './diagram';

export interface LiveHandlers {
  snapshot(diagram: string, seq: bigint, svg: string, fromNs: number, toNs: number): void;
  delta(diagram: string, seq: bigint, items: DeltaItem[], fromNs: number, toNs: number): void;
  state(state: string, bytes: number, events: number, endNs: number): void;
  status(s: 'connecting' | 'open' | 'closed' | 'unavailable', detail?: string): void;
}

const WS_KEY = 'liveprof-ws';

/** The WebSocket base URL: ?ws=URL (remembered), else the saved one, else HTTP port + 1. */
export function wsBase(): string {
  const q = new URLSearchParams(location.search).get('ws');
  if (q) localStorage.setItem(WS_KEY, q);
  const saved = q ?? localStorage.getItem(WS_KEY);
  if (saved) return saved.replace(/\/+$/, '');
  const port = Number(location.port || (location.protocol === 'https:' ? 443 : 80)) + 1;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname}:${port}`;
}

const OPS: Record<number, DeltaItem['op']> = { [Op.Add]: 'add', [Op.Update]: 'update', [Op.Remove]: 'remove' };

function decodeItems(d: Delta): DeltaItem[] {
  const items: DeltaItem[] = [];
  for (let i = 0, n = d.itemsLength(); i < n; i++) {
    const it = d.items(i)!;
    const attrs: DeltaItem['attrs'] = [];
    for (let j = 0, m = it.attrsLength(); j < m; j++) {
      const a = it.attrs(j)!;
      attrs.push({
        name: a.name() ?? '',
        value: a.value() ?? '',
        remove: a.remove(),
        splice: a.splice() ? { at: a.at(), cut: a.cut() } : null,
      });
    }
    items.push({
      op: OPS[it.op()] ?? 'update',
      id: it.id() ?? '',
      parent: it.parent() ?? '',
      svg: it.svg() ?? '',
      attrs,
      before: it.before() ?? '',
    });
  }
  return items;
}

export function encodeHello(lastSeq: bigint): Uint8Array {
  const b = new flatbuffers.Builder(64);
  const hello = Hello.createHello(b, lastSeq);
  const msg = Message.createMessage(b, Body.Hello, hello);
  Message.finishMessageBuffer(b, msg);
  return b.asUint8Array();
}

export function encodeSubscribe(diagrams: string[], fromNs: bigint, toNs: bigint): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const names = Subscribe.createDiagramsVector(b, diagrams.map((d) => b.createString(d)));
  const sub = Subscribe.createSubscribe(b, names, fromNs, toNs);
  const msg = Message.createMessage(b, Body.Subscribe, sub);
  Message.finishMessageBuffer(b, msg);
  return b.asUint8Array();
}

export class LiveLink {
  private ws: WebSocket | null = null;
  private lastSeq = 0n;
  private retry = 0;
  private timer = 0;
  private stopped = true;
  private everOpened = false;

  constructor(
    private sessionId: string,
    private token: () => string | null,
    private diagrams: () => string[],
    private on: LiveHandlers,
  ) {}

  get seq(): bigint {
    return this.lastSeq;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Closes the link; `start` later resumes from the last seq. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  /** Asks for a fresh snapshot of everything (forgets the seq) on a new connection. */
  resync(): void {
    this.lastSeq = 0n;
    this.stop();
    this.start();
  }

  /** Sends the current diagram list (live end) on the open link. */
  subscribe(): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeSubscribe(this.diagrams(), 0n, 0n));
  }

  private connect(): void {
    const t = this.token();
    const url = `${wsBase()}/ws?session=${encodeURIComponent(this.sessionId)}${t ? `&token=${encodeURIComponent(t)}` : ''}`;
    this.on.status('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.on.status('unavailable', String(e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.everOpened = true;
      this.retry = 0;
      this.on.status('open');
      /* A Hello alone resumes the default diagrams (grid, caps, heap) after the last seq; a
       * Subscribe always brings fresh snapshots of what it names. */
      const wanted = this.diagrams();
      const defaults = wanted.length === 3 && ['grid', 'caps', 'heap'].every((d) => wanted.includes(d));
      if (this.lastSeq > 0n && defaults) ws.send(encodeHello(this.lastSeq));
      else ws.send(encodeSubscribe(wanted, 0n, 0n));
    };
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) this.handle(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      this.ws = null;
      if (this.stopped) return;
      /* a policy refusal, or the session's own: no token, not visible, no such session (4401,
       * 4403, 4404): asking again gets the same answer */
      if (ev.code === 1008 || ev.code === 1003 || (ev.code >= 4400 && ev.code < 4500)) {
        this.on.status('unavailable', ev.reason || `closed (${ev.code})`);
        return;
      }
      if (!this.everOpened && this.retry >= 1) {
        this.on.status('unavailable', 'no WebSocket server');
      } else {
        this.on.status('closed');
      }
      const delay = Math.min(5000, 250 * 2 ** this.retry++);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  private handle(bytes: Uint8Array): void {
    let msg: Message;
    try {
      const bb = new flatbuffers.ByteBuffer(bytes);
      msg = Message.getRootAsMessage(bb);
      switch (msg.bodyType()) {
        case Body.Snapshot: {
          const s = msg.body(new Snapshot()) as Snapshot;
          const seq = s.seq();
          if (seq > this.lastSeq) this.lastSeq = seq;
          this.on.snapshot(s.diagram() ?? '', seq, s.svg() ?? '', Number(s.fromNs()), Number(s.toNs()));
          break;
        }
        case Body.Delta: {
          const d = msg.body(new Delta()) as Delta;
          const seq = d.seq();
          if (seq > this.lastSeq) this.lastSeq = seq;
          this.on.delta(d.diagram() ?? '', seq, decodeItems(d), Number(d.fromNs()), Number(d.toNs()));
          break;
        }
        case Body.State: {
          const s = msg.body(new State()) as State;
          this.on.state(s.state() ?? '', Number(s.bytesIngested()), Number(s.events()), Number(s.endNs()));
          break;
        }
        case Body.Error: {
          const e = msg.body(new WsError()) as WsError;
          this.on.status('unavailable', `${e.message() ?? 'error'} (${e.code()})`);
          break;
        }
        default:
          break;
      }
    } catch (e) {
      this.on.status('unavailable', `bad message: ${e}`);
    }
  }
}
