// Browser test: a dashboard whose session does not exist, and one whose session is deleted while
// it is open. Each says so in place of the dashboard and stops asking: no more polls of the
// session, no more WebSocket connections.
// usage: node gone.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, done, launch, newPage, rest, run } from './lib.mjs';

const [http, ws, admin, outdir, log] = process.argv.slice(2);
if (!log) {
  console.error('usage: node gone.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG');
  process.exit(2);
}
const QUIET_MS = 3500; /* over three of the page's 1 s polls, and its WebSocket retry delays */

/* Opens the dashboard of session `id` and counts its polls of the session and its WebSocket
 * connections from then on. */
async function open(page, id, counts) {
  counts.polls = 0;
  counts.sockets = 0;
  page.removeAllListeners('request');
  page.removeAllListeners('websocket');
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === `/api/sessions/${id}`) counts.polls++;
  });
  page.on('websocket', () => counts.sockets++);
  await page.goto(`${http}/?ws=${encodeURIComponent(ws)}#/session/${id}`);
}

/* Waits for the notice, then checks that nothing more is asked for a while. */
async function settles(page, counts, expect, what) {
  const notice = await page.waitForSelector('#dash-gone', { timeout: 10000 }).catch(() => null);
  if (!check(notice !== null, `${what}: the page says the session cannot be shown`)) return;
  const text = await notice.textContent();
  check(text.includes(expect), `${what}: it says "${text}"`);
  check((await page.$$('.diagram-card')).length === 0, `${what}: no empty diagram panels are left`);
  const polls = counts.polls,
    sockets = counts.sockets;
  await page.waitForTimeout(QUIET_MS);
  check(counts.polls === polls, `${what}: no poll of the session after it (${counts.polls - polls} in ${QUIET_MS} ms)`);
  check(counts.sockets === sockets, `${what}: no WebSocket connection after it (${counts.sockets - sockets})`);
}

run(async () => {
  const browser = await launch();
  const page = await newPage(browser);
  await page.addInitScript((t) => {
    localStorage.setItem('liveprof-seen', '1');
    localStorage.setItem('liveprof-token', t);
  }, admin);
  const counts = {};

  /* a session that never was */
  await open(page, '0123456789abcdef0123456789abcdef', counts);
  await settles(page, counts, 'No session 0123456789abcdef0123456789abcdef here', 'an unknown id');
  await page.screenshot({ path: join(outdir, 'unknown.png') });

  /* a session deleted while its dashboard follows it */
  const up = await rest(http, admin, 'POST', `/api/sessions?name=${basename(log)}`, new Uint8Array(readFileSync(log)), 'application/octet-stream');
  check(up.status === 201, `the log was uploaded (${up.status})`);
  const id = up.json?.id;
  await open(page, id, counts);
  const shown = await page.waitForSelector('.page[data-state="done"]', { timeout: 20000 }).catch(() => null);
  check(shown !== null, 'the dashboard showed the session done');
  const del = await rest(http, admin, 'DELETE', `/api/sessions/${id}`);
  check(del.status === 204 || del.status === 200, `the session was deleted (${del.status})`);
  await settles(page, counts, 'This session is gone', 'a deleted session');
  await page.screenshot({ path: join(outdir, 'deleted.png') });
  await done(browser);
});
