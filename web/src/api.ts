// REST client: the bearer token kept in localStorage, JSON requests with the server's
// {"error","detail"} errors turned into ApiError, and authenticated blob downloads.

const TOKEN_KEY = 'liveprof-token';

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { Authorization: 'Bearer ' + t } : {};
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    public detail: string,
    public body: Record<string, unknown> = {},
  ) {
    super(detail || code || `HTTP ${status}`);
  }
}

async function fail(res: Response): Promise<never> {
  let body: Record<string, unknown> = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON: the status says enough */
  }
  throw new ApiError(res.status, String(body.error ?? ''), String(body.detail ?? res.statusText), body);
}

/** Fetches `path` with the token; throws ApiError on a non-2xx answer. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) };
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) await fail(res);
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function sendJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** Downloads `path` (with the token, which a plain link cannot send) as `filename`. */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface Session {
  id: string;
  name: string;
  owner: string | null;
  visibility: 'public' | 'private';
  state: 'ingesting' | 'live' | 'done' | 'failed';
  bytes_ingested: number;
  events: number;
  error: string | null;
  created?: string;
}

export interface Me {
  name: string | null;
  role: 'admin' | 'user' | 'guest';
}

export interface TotalsRow {
  kind: 'section' | 'gc' | 'user' | 'thread' | 'sum';
  name: string;
  total_ns?: number;
}

export const sessionPath = (id: string, rest = ''): string =>
  `/api/sessions/${encodeURIComponent(id)}${rest}`;
