// Chunked, resumable upload of one file through /api/uploads: create, PUT each chunk at its
// offset (XHR, for progress within a chunk), finish. A 409 names the offset the server has;
// a network failure asks GET /api/uploads/{id} where to resume; a 413 (the server's --max-body
// is below the chunk) halves the chunk, down to 64 KiB. The upload id is remembered
// per file (name, size, mtime) so choosing the same file after a reload resumes it.

import { authHeaders, getJson, sendJson } from './api';

export const CHUNK = 4 << 20;
const MIN_CHUNK = 64 << 10; // a 413 halves the chunk down to this, then is an error

/** A refused chunk, with the server's status. */
class ChunkError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
const RESUME_KEY = 'liveprof-uploads';

interface UploadInfo {
  id: string;
  session: string;
  offset: number;
  finished?: boolean;
}

function fileKey(f: File): string {
  return `${f.name}|${f.size}|${f.lastModified}`;
}

function resumable(): Record<string, UploadInfo> {
  try {
    return JSON.parse(localStorage.getItem(RESUME_KEY) ?? '{}');
  } catch {
    return {};
  }
}

function remember(f: File, u: UploadInfo | null): void {
  const all = resumable();
  if (u) all[fileKey(f)] = u;
  else delete all[fileKey(f)];
  localStorage.setItem(RESUME_KEY, JSON.stringify(all));
}

/** PUT one chunk; resolves with the server's offset, or the expected one on a 409. */
function putChunk(id: string, offset: number, blob: Blob, progress: (sent: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/uploads/${encodeURIComponent(id)}?offset=${offset}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => progress(e.loaded);
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText || '{}');
      } catch {
        /* status is enough */
      }
      if (xhr.status === 200) resolve(Number(body.offset));
      else if (xhr.status === 409 && typeof body.expected_offset === 'number') resolve(body.expected_offset);
      else reject(new ChunkError(String(body.detail ?? body.error ?? `HTTP ${xhr.status}`), xhr.status));
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(blob);
  });
}

export interface UploadEvents {
  progress(sent: number, total: number): void;
  started(session: string): void;
}

/** Uploads `file` (resuming a known upload of it); resolves with the session id. */
export async function uploadFile(file: File, name: string, on: UploadEvents, chunk = CHUNK): Promise<string> {
  let u: UploadInfo | null = resumable()[fileKey(file)] ?? null;
  if (u) {
    try {
      u = { ...u, ...(await getJson<UploadInfo>(`/api/uploads/${encodeURIComponent(u.id)}`)) };
      if (u.finished) u = null;
    } catch {
      u = null;
    }
  }
  if (!u) {
    u = await sendJson<UploadInfo>('POST', `/api/uploads?name=${encodeURIComponent(name)}`);
    u.offset = 0;
  }
  remember(file, u);
  on.started(u.session);
  let offset = u.offset;
  let failures = 0;
  on.progress(offset, file.size);
  while (offset < file.size) {
    const end = Math.min(file.size, offset + chunk);
    try {
      offset = await putChunk(u.id, offset, file.slice(offset, end), (sent) => on.progress(offset + sent, file.size));
      failures = 0;
      remember(file, { ...u, offset });
    } catch (e) {
      if (e instanceof ChunkError && e.status === 413 && end - offset > MIN_CHUNK) {
        // the server's --max-body is below the chunk: the same bytes again, in halves
        chunk = Math.max(MIN_CHUNK, Math.floor((end - offset) / 2));
        continue;
      }
      if (++failures > 5) throw e;
      await new Promise((r) => setTimeout(r, 200 * 2 ** failures));
      try {
        offset = (await getJson<UploadInfo>(`/api/uploads/${encodeURIComponent(u.id)}`)).offset;
      } catch {
        /* retry the same offset */
      }
    }
    on.progress(offset, file.size);
  }
  await sendJson('POST', `/api/uploads/${encodeURIComponent(u.id)}/finish`);
  remember(file, null);
  return u.session;
}
