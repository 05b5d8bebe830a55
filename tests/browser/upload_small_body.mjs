// Browser test: a server whose --max-body is below the page's 4 MiB chunk. The page halves its
// chunk at each 413 and the upload completes; its totals table equals the expected totals.txt,
// and the server holds the whole file.
// usage: node upload_small_body.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, done, firstDiff, launch, newPage, rest, run, sameRows, tableRows, totalsRows } from './lib.mjs';

const [http, ws, admin, outdir, log, expectedTxt] = process.argv.slice(2);
if (!expectedTxt) {
  console.error('usage: node upload_small_body.mjs HTTP_URL WS_URL ADMIN_TOKEN OUTDIR LOG EXPECTED_TOTALS_TXT');
  process.exit(2);
}

run(async () => {
  const browser = await launch();
  const page = await newPage(browser);
  /* signed in as the admin through the stored token: the dialog is another test's subject */
  await page.addInitScript((t) => localStorage.setItem('liveprof-token', t), admin);
  let refused = 0;
  page.on('response', (r) => {
    if (r.request().method() === 'PUT' && r.status() === 413) refused++;
  });
  await page.goto(`${http}/?ws=${encodeURIComponent(ws)}`);
  await page.setInputFiles('#upload-file', log);
  await page.click('#upload-button');
  const opened = await page.waitForSelector('#upload-open', { timeout: 30000 }).catch(() => null);
  check(opened !== null, 'the upload finished');
  check(refused >= 1, `the server refused the first chunks (${refused} answers 413)`);
  check((await page.$eval('#upload-progress', (p) => p.value)) === 1, 'the progress bar ends full');
  await page.screenshot({ path: join(outdir, 'uploaded.png') });

  await page.click('#upload-open');
  await page.waitForSelector('.page[data-state="done"]', { timeout: 20000 });
  const expected = totalsRows(expectedTxt);
  const userRows = expected.filter((r) => r.length === 3).length;
  await page.waitForFunction((n) => document.querySelectorAll('#totals-table tbody tr td').length >= n * 3, userRows, { timeout: 10000 });
  const rows = await tableRows(page);
  check(sameRows(rows, expected), `the totals table equals ${basename(expectedTxt)} (first difference: ${firstDiff(rows, expected)})`);
  const list = await rest(http, admin, 'GET', '/api/sessions');
  const sess = (list.json?.sessions ?? []).find((s) => s.name === basename(log));
  const size = readFileSync(log).length;
  check(sess?.bytes_received === size, `the server received the whole file (${sess?.bytes_received} of ${size} bytes)`);
  await done(browser);
});
