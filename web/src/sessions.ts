// The home page: the upload card (file input, name, progress bar) and the session list with
// each session's state and a live badge, polled every 2 s while the page shows.

import { getJson, type Session } from './api';
import { fmtBytes, fmtCount, h, stateBadge } from './dom';
import { uploadFile } from './upload';

export function sessionsPage(root: HTMLElement, go: (hash: string) => void): () => void {
  const file = h('input', { type: 'file', id: 'upload-file', accept: '.eventlog,application/octet-stream' });
  const name = h('input', { type: 'text', id: 'upload-name', placeholder: 'name (default: file name)' });
  const bar = h('progress', { id: 'upload-progress', max: '1', value: '0' });
  const barText = h('span', { class: 'muted', id: 'upload-progress-text' });
  const msg = h('div', { class: 'msg', id: 'upload-msg', role: 'status' });
  const button = h('button', { class: 'primary', id: 'upload-button' }, 'Upload');
  const progressRow = h('div', { class: 'progress-row', hidden: true }, bar, barText);

  const body = h('tbody', { id: 'sessions-body' });
  const empty = h('p', { class: 'muted empty', hidden: true }, 'No sessions yet: upload an eventlog above.');
  const listMsg = h('div', { class: 'msg' });

  button.addEventListener('click', async () => {
    const f = file.files?.[0];
    if (!f) {
      msg.textContent = 'Choose an .eventlog file first.';
      return;
    }
    button.disabled = true;
    progressRow.hidden = false;
    msg.textContent = '';
    const t0 = performance.now();
    try {
      const session = await uploadFile(f, name.value.trim() || f.name, {
        started: (id) => {
          msg.replaceChildren('Uploading… ', h('a', { href: `#/session/${id}` }, 'watch it live'));
          void refresh();
        },
        progress: (sent, total) => {
          bar.value = total ? sent / total : 1;
          const s = (performance.now() - t0) / 1000;
          const rate = s > 0.2 ? ` · ${fmtBytes(sent / s)}/s` : '';
          barText.textContent = `${fmtBytes(sent)} of ${fmtBytes(total)} (${total ? Math.floor((100 * sent) / total) : 100}%)${rate}`;
        },
      });
      msg.replaceChildren('Uploaded. ', h('a', { href: `#/session/${session}`, id: 'upload-open' }, 'Open the dashboard'));
      file.value = '';
      name.value = '';
    } catch (e) {
      msg.textContent = `Upload failed: ${(e as Error).message} (choose the same file again to resume)`;
    } finally {
      button.disabled = false;
      void refresh();
    }
  });

  async function refresh(): Promise<void> {
    let list: Session[];
    try {
      list = (await getJson<{ sessions: Session[] }>('/api/sessions')).sessions;
      listMsg.textContent = '';
    } catch (e) {
      listMsg.textContent = `Cannot list sessions: ${(e as Error).message}`;
      return;
    }
    empty.hidden = list.length > 0;
    body.replaceChildren(
      ...list.map((s) =>
        h(
          'tr',
          { class: 'clickable', 'data-id': s.id, onclick: () => go(`#/session/${s.id}`) },
          h('td', {}, h('a', { href: `#/session/${s.id}`, class: 'session-link' }, s.name || s.id)),
          h('td', {}, stateBadge(s.state)),
          h('td', {}, s.owner ?? 'guest'),
          h('td', {}, s.visibility),
          h('td', { class: 'num' }, fmtBytes(s.bytes_ingested)),
          h('td', { class: 'num' }, fmtCount(s.events)),
          h('td', { class: 'muted' }, s.created ?? ''),
        ),
      ),
    );
  }

  root.replaceChildren(
    h(
      'section',
      { class: 'card' },
      h('header', { class: 'card-head' }, h('h2', {}, 'Upload an eventlog')),
      h('p', { class: 'muted' }, 'Any size: the file goes up in 4 MiB chunks, is analysed while it arrives, and resumes after a failure.'),
      h('div', { class: 'row-form' }, file, name, button),
      progressRow,
      msg,
    ),
    h(
      'section',
      { class: 'card' },
      h('header', { class: 'card-head' }, h('h2', {}, 'Sessions')),
      listMsg,
      h(
        'table',
        { class: 'table', id: 'sessions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'name'),
            h('th', {}, 'state'),
            h('th', {}, 'owner'),
            h('th', {}, 'visibility'),
            h('th', { class: 'num' }, 'bytes'),
            h('th', { class: 'num' }, 'events'),
            h('th', {}, 'created'),
          ),
        ),
        body,
      ),
      empty,
    ),
  );
  void refresh();
  const timer = window.setInterval(() => {
    if (!document.hidden) void refresh();
  }, 2000);
  return () => clearInterval(timer);
}
