// Shared helpers of the browser tests: Debian's chromium driven by playwright-core (from
// web/node_modules; no browser is ever downloaded), checks that print what failed, REST calls
// with the admin token, and the expected totals.txt parsed into table rows.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
const CHROMIUM = process.env.LIVEPROF_CHROMIUM || '/usr/bin/chromium';

function fatal(msg) {
  console.error(`error: ${msg}`);
  process.exit(2);
}

/** Launches headless chromium; exits 2 with a clear message when something is missing. */
export async function launch() {
  if (!existsSync(CHROMIUM)) fatal(`${CHROMIUM} is missing (Debian package chromium; run scripts/deps.sh)`);
  let pw;
  try {
    pw = createRequire(join(repo, 'web', 'package.json'))('playwright-core');
  } catch (e) {
    fatal(`playwright-core is not installed in web/node_modules (run scripts/deps.sh): ${e.message}`);
  }
  const browser = await pw.chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  console.log(`     ${stamp()} chromium ${browser.version()} started`);
  return browser;
}

let failures = 0;
const t0 = Date.now();
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`;
export function check(cond, what) {
  if (cond) {
    console.log(`ok   ${stamp()} ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${stamp()} ${what}`);
  }
  return cond;
}

/** Ends the test: exit 1 when any check failed. */
export function done(browser) {
  return browser.close().then(() => {
    console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
    process.exit(failures ? 1 : 0);
  });
}

/** Runs main() and turns an exception into a failure with its message. */
export function run(main) {
  main().catch((e) => {
    console.log(`FAIL ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  });
}

export async function rest(base, token, method, path, body, ctype) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && ctype) headers['Content-Type'] = ctype;
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, text, json };
}

/** totals.txt as table rows: a section is [title], a total [name, "Nns", "S.SSSs"]. */
export function totalsRows(path) {
  const rows = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const m = /^(.*?)\s+(\d+ns)\s+(\S+s)$/.exec(line);
    rows.push(m ? [m[1], m[2], m[3]] : [line]);
  }
  return rows;
}

/** The rows of the page's totals table in the same shape. */
export async function tableRows(page) {
  return page.$$eval('#totals-table tbody tr', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('th, td')).map((c) => c.textContent)),
  );
}

export function sameRows(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function firstDiff(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i]))
      return `row ${i}: page ${JSON.stringify(a[i])} vs expected ${JSON.stringify(b[i])}`;
  return 'none';
}

/** Opens a page that reports its console errors and uncaught exceptions as failures. */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true, ...opts });
  const page = await context.newPage();
  page.on('pageerror', (e) => check(false, `no uncaught exception in the page: ${e.message}`));
  return page;
}
