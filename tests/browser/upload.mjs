// Browser test: sign in through the dialog, upload a log through the file input (throttled so
// the progress bar is seen moving), open its dashboard, and check the six diagrams, the totals
// table against the expected totals.txt, row filters, zoom, and the downloads.
// usage: node upload.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, done, firstDiff, launch, newPage, rest, run, sameRows, tableRows, totalsRows } from './lib.mjs';

const [http, ws, admin, outdir, log, expectedTxt] = process.argv.slice(2);
if (!expectedTxt) {
  console.error('usage: node upload.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT');
  process.exit(2);
}
const shot = (page, name, full = false) => page.screenshot({ path: join(outdir, name), fullPage: full });

run(async () => {
  const user = { name: 'ann', password: 'correct horse battery' };
  const created = await rest(http, admin, 'POST', '/api/users', user, 'application/json');
  check(created.status === 201, `created user ann over REST (${created.status})`);

  const browser = await launch();
  const page = await newPage(browser);
  await page.goto(`${http}/?ws=${encodeURIComponent(ws)}`);

  /* sign in: the dialog opens on the first visit */
  await page.waitForSelector('#signin[open]', { timeout: 5000 });
  await page.fill('#signin-user', user.name);
  await page.fill('#signin-password', 'wrong password');
  await page.click('#signin-submit');
  await page.waitForFunction(() => document.querySelector('#signin-msg').textContent !== '');
  check((await page.textContent('#signin-msg')).includes('Wrong'), 'a wrong password is refused in the dialog');
  await page.fill('#signin-password', user.password);
  await shot(page, 'signin.png');
  await page.click('#signin-submit');
  await page.waitForFunction(() => document.querySelector('#user-name')?.textContent === 'ann', null, { timeout: 5000 });
  check(!(await page.isVisible('#signin')), 'signed in as ann; the dialog closed');
  const token = await page.evaluate(() => localStorage.getItem('liveprof-token'));
  check(/^[0-9a-f]{64}$/.test(token ?? ''), 'the login token is kept in localStorage');

  /* upload through the file input, with the upload throttled to see the progress bar move */
  const cdp = await page.context().newCDPSession(page);
  const size = readFileSync(log).length;
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: Math.max(16384, Math.floor(size / 1.5)),
  });
  await page.setInputFiles('#upload-file', log);
  await page.click('#upload-button');
  const mid = await page
    .waitForFunction(
      () => {
        const p = document.querySelector('#upload-progress');
        return p && p.value > 0.05 && p.value < 0.95 ? p.value : false;
      },
      null,
      { timeout: 10000, polling: 20 },
    )
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(mid !== null, `the progress bar shows a partial upload (${mid})`);
  if (mid !== null) await shot(page, 'upload-progress.png');
  await page.waitForSelector('#upload-open', { timeout: 20000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  check((await page.$eval('#upload-progress', (p) => p.value)) === 1, 'the progress bar ends full');
  const listed = await page.waitForSelector(`#sessions-body tr >> text=${basename(log)}`, { timeout: 5000 }).catch(() => null);
  check(listed !== null, 'the session list shows the upload');

  /* the dashboard */
  await page.click('#upload-open');
  await page.waitForSelector('.page[data-state="done"]', { timeout: 20000 });
  for (const kind of ['grid', 'caps', 'gc', 'heap', 'heapprof', 'sparks']) {
    const ok = await page
      .waitForSelector(`#diagram-${kind} svg.diagram[data-kind="${kind}"]`, { timeout: 10000 })
      .then(() => true)
      .catch(() => false);
    check(ok, `diagram ${kind} is shown`);
  }
  const expected = totalsRows(expectedTxt);
  const userRows = expected.filter((r) => r.length === 3).length;
  await page.waitForFunction((n) => document.querySelectorAll('#totals-table tbody tr td').length >= n * 3, userRows, { timeout: 10000 });
  const rows = await tableRows(page);
  check(sameRows(rows, expected), `the totals table equals ${basename(expectedTxt)} (${expected.length} rows; first difference: ${firstDiff(rows, expected)})`);
  const gridRows = await page.$$eval('#diagram-grid svg g.row', (g) => g.length);
  const wantRows = expected.filter((r) => r.length === 3 && r[0] !== 'TOTAL').length;
  check(gridRows === wantRows, `the grid has a row per total (GC, labels, threads): ${gridRows} == ${wantRows}`);
  const cells = await page.$$eval('#diagram-grid svg g.row path[data-q]', (ps) =>
    ps.reduce((n, p) => n + p.getAttribute('data-q').split(' ').length, 0),
  );
  check(cells > 20, `the grid has cells (${cells})`);
  await shot(page, 'dashboard.png', true);

  /* every diagram of the session spans the same time range, so their axes line up */
  const ranges = await page.$$eval('.diagram-host svg', (ss) => ss.map((s) => `${s.dataset.kind}:${s.dataset.fromNs}-${s.dataset.toNs}`));
  check(ranges.length >= 3 && new Set(ranges.map((r) => r.split(':')[1])).size === 1, `the diagrams share one time range (${ranges.join(', ')})`);

  /* a grid cell's exact value shows in a tip on hover (values live in data-q, not <title>s) */
  const cell = await page.$eval('#diagram-grid svg g.row path[data-q]', (p) => {
    const m = /^M([-\d.]+),[-\d.]+h([-\d.]+)/.exec(p.getAttribute('d'));
    const ctm = p.getScreenCTM();
    const pt = new DOMPoint(Number(m[1]) + Number(m[2]) / 2, 7).matrixTransform(ctm);
    return { x: pt.x, y: pt.y, q: p.getAttribute('data-q').split(' ')[0].split(':')[1], name: p.closest('g.row').querySelector('text').textContent };
  });
  await page.mouse.move(cell.x, cell.y);
  const tip = await page.$eval('#diagram-grid .diagram-tip', (t) => (t.hidden ? '' : t.textContent)).catch(() => '');
  check(tip.startsWith(`${cell.name} [`) && tip.includes(`: ${Number(cell.q)} (`), `hovering a grid cell shows its value (${tip} for ${cell.name} q ${cell.q})`);
  await page.mouse.move(0, 0);

  /* row filters: labels matching "round", threads matching "worker" */
  const before = await page.$eval('#diagram-grid svg', (s) => s.getBoundingClientRect().height);
  await page.fill('#filter-labels', '^round');
  await page.fill('#filter-threads', 'worker');
  const visible = await page.$$eval('#diagram-grid svg g.row', (gs) =>
    gs.filter((g) => g.style.display !== 'none').map((g) => [g.id.split('-')[0], g.querySelector('text').firstChild.textContent]),
  );
  check(
    visible.length > 0 && visible.every(([k, n]) => k === 'gc' || (k === 'labels' ? /^round/i.test(n) : /worker/i.test(n))),
    `filters keep only matching rows (${visible.map((v) => v[1]).join(', ')})`,
  );
  const after = await page.$eval('#diagram-grid svg', (s) => s.getBoundingClientRect().height);
  check(after < before * 0.75, `filtered rows leave no gaps (shown height ${before.toFixed(0)} -> ${after.toFixed(0)} px)`);
  const lastRowBottom = await page.$eval('#diagram-grid svg', (s) => {
    const rows = Array.from(s.querySelectorAll('g.row')).filter((g) => g.style.display !== 'none');
    return Math.max(...rows.map((g) => g.getBoundingClientRect().bottom)) - s.getBoundingClientRect().top;
  });
  check(lastRowBottom <= after + 1, `the last shown row is inside the shortened diagram (${lastRowBottom.toFixed(0)} <= ${after.toFixed(0)})`);
  await page.locator('#diagram-grid').screenshot({ path: join(outdir, 'grid-filtered.png') });
  await page.fill('#filter-labels', '');
  await page.fill('#filter-threads', '');

  /* zoom to a range over REST */
  const [from, to] = await page.$eval('#diagram-grid svg', (s) => [Number(s.dataset.fromNs), Number(s.dataset.toNs)]);
  const zf = from + (to - from) / 4,
    zt = from + (to - from) / 2;
  const loads = Number(await page.$eval('.page', (p) => p.dataset.restLoads ?? 0));
  await page.fill('#zoom-from', String(zf / 1e6));
  await page.fill('#zoom-to', String(zt / 1e6));
  await page.click('#zoom-apply');
  await page.waitForFunction((n) => Number(document.querySelector('.page').dataset.restLoads) > n, loads, { timeout: 10000 });
  const [zf2, zt2] = await page.$eval('#diagram-grid svg', (s) => [Number(s.dataset.fromNs), Number(s.dataset.toNs)]);
  check(zf2 <= zf && zt2 >= zt && zt2 - zf2 < (to - from) * 0.6, `zoomed to [${zf2}, ${zt2}) around [${zf}, ${zt})`);
  check((await page.textContent('#link-status')) === 'zoomed', 'the status says zoomed');
  await shot(page, 'dashboard-zoomed.png');
  await page.click('#zoom-reset');
  await page.waitForFunction((w) => Number(document.querySelector('#diagram-grid svg')?.dataset.toNs) - Number(document.querySelector('#diagram-grid svg')?.dataset.fromNs) > w, (zt2 - zf2) * 1.5, { timeout: 10000 });
  check(true, 'back to the whole run');

  /* downloads */
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-totals')]);
  const txt = readFileSync(await dl.path(), 'utf8');
  check(txt === readFileSync(expectedTxt, 'utf8'), `downloaded totals.txt equals the expected file (${dl.suggestedFilename()})`);
  const [dsvg] = await Promise.all([page.waitForEvent('download'), page.click('[data-download="grid"]')]);
  const svg = readFileSync(await dsvg.path(), 'utf8');
  check(svg.startsWith('<?xml') && svg.includes('data-kind="grid"') && svg.trimEnd().endsWith('</svg>'), `downloaded ${dsvg.suggestedFilename()} is the grid SVG`);
  const href = await page.getAttribute('#download-eventlog', 'href');
  check(/\/api\/sessions\/[0-9a-f]+\/eventlog$/.test(href ?? ''), `the raw eventlog link is shown (${href})`);

  /* dark mode */
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'dashboard-dark.png');
  await done(browser);
});
