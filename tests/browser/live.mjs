// Browser test: a session fed live over the chunked upload path in small pieces while its
// dashboard is open; the diagrams must change without a reload, and once the input ends the
// totals table must equal the expected totals.txt.
// usage: node live.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT [--require-ws]
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, done, firstDiff, launch, newPage, rest, run, sameRows, tableRows, totalsRows } from './lib.mjs';

const [http, ws, admin, outdir, log, expectedTxt, flag] = process.argv.slice(2);
if (!expectedTxt) {
  console.error('usage: node live.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT [--require-ws]');
  process.exit(2);
}
const PIECES = 12;
const PAUSE_MS = 250;

run(async () => {
  const bytes = new Uint8Array(readFileSync(log));
  const up = await rest(http, admin, 'POST', `/api/uploads?name=${basename(log)}`);
  check(up.status === 201, `chunked upload created (${up.status})`);
  const { id, session } = up.json;
  const piece = Math.ceil(bytes.length / PIECES);
  let offset = 0;
  const feed = async () => {
    const end = Math.min(bytes.length, offset + piece);
    const r = await rest(http, admin, 'PUT', `/api/uploads/${id}?offset=${offset}`, bytes.subarray(offset, end), 'application/octet-stream');
    if (r.status !== 200) throw new Error(`PUT at ${offset}: ${r.status} ${r.text}`);
    offset = end;
  };
  await feed(); /* the header and the first events */

  const browser = await launch();
  const page = await newPage(browser);
  await page.addInitScript((t) => {
    localStorage.setItem('liveprof-seen', '1');
    localStorage.setItem('liveprof-token', t);
    localStorage.setItem('liveprof-diagrams', JSON.stringify(['grid', 'caps', 'gc']));
  }, admin);
  await page.goto(`${http}/?ws=${encodeURIComponent(ws)}#/session/${session}`);
  await page.waitForSelector('#diagram-grid svg.diagram', { timeout: 10000 });
  await page.evaluate(() => (window.__sameDocument = true));
  /* grid cells: one "bin:q" value each in the data-q of their row's level paths */
  const cells = () =>
    page.$$eval('#diagram-grid svg path[data-q]', (ps) => ps.reduce((n, p) => n + p.getAttribute('data-q').split(' ').length, 0));
  const seen = new Set([await cells()]);
  let midShot = false;
  while (offset < bytes.length) {
    await feed();
    await page.waitForTimeout(PAUSE_MS);
    const n = await cells();
    seen.add(n);
    if (!midShot && n > 200 && offset < bytes.length) {
      /* the first view with data while the log is still arriving */
      midShot = true;
      const state = await page.getAttribute('.page', 'data-state');
      check(state === 'ingesting' || state === 'live', `the dashboard shows the session live (${state}) with ${n} cells`);
      check((await page.textContent('#session-state')).includes(state), 'the live badge is shown');
      await page.screenshot({ path: join(outdir, 'live-mid.png'), fullPage: false });
    }
  }
  check(midShot, 'the grid showed data before the upload ended');
  const fin = await rest(http, admin, 'POST', `/api/uploads/${id}/finish`);
  check(fin.status === 200, `upload finished (${fin.status})`);
  await page.waitForSelector('.page[data-state="done"]', { timeout: 20000 });
  await page.waitForTimeout(1200); /* the last refresh after settling */
  seen.add(await cells());
  const mode = await page.getAttribute('.page', 'data-mode');
  check(seen.size >= 3, `the grid changed while the log arrived, without a reload (${seen.size} distinct cell counts: ${[...seen].join(', ')}; via ${mode === 'ws' ? 'WebSocket deltas' : 'REST polling'})`);
  if (flag === '--require-ws') {
    check(mode === 'ws', `the diagrams followed over the WebSocket (${mode})`);
    const applied = Number(await page.getAttribute('.page', 'data-applied'));
    check(applied > 0, `deltas were applied (${applied} element changes)`);
  }
  check(await page.evaluate(() => window.__sameDocument === true), 'the page was never reloaded');
  if (mode === 'ws') {
    /* the deltas applied in the page rebuild exactly what a fresh snapshot holds */
    let last = null;
    for (let i = 0; i < 20; i++) {
      const a = await page.getAttribute('.page', 'data-applied');
      if (a === last) break;
      last = a;
      await page.waitForTimeout(400);
    }
    /* (whitespace between elements is not part of a delta: it renders as nothing) */
    const grab = () =>
      page.evaluate(() =>
        ['grid', 'caps', 'gc'].map((k) => window.__liveprof.views.get(k).serialize().replace(/>\s+</g, '><')),
      );
    const before = await grab();
    const snaps = Number((await page.getAttribute('.page', 'data-snapshots')) ?? 0);
    await page.evaluate(() => window.__liveprof.link.resync());
    await page.waitForFunction((n) => Number(document.querySelector('.page').dataset.snapshots) >= n + 3, snaps, { timeout: 10000 });
    const after = await grab();
    ['grid', 'caps', 'gc'].forEach((k, i) => {
      if (!check(before[i] === after[i], `${k}: the page after its deltas equals a fresh snapshot element for element (${before[i].length} bytes)`)) {
        writeFileSync(join(outdir, `${k}.deltas.svg`), before[i]);
        writeFileSync(join(outdir, `${k}.snapshot.svg`), after[i]);
      }
    });
  }

  const expected = totalsRows(expectedTxt);
  await page
    .waitForFunction((n) => document.querySelectorAll('#totals-table tbody tr').length === n, expected.length, { timeout: 10000 })
    .catch(() => null);
  const rows = await tableRows(page);
  check(sameRows(rows, expected), `the final totals table equals ${basename(expectedTxt)} (first difference: ${firstDiff(rows, expected)})`);
  await page.screenshot({ path: join(outdir, 'live-final.png'), fullPage: true });
  await done(browser);
});
