// Node side of bench/stage_web.sh: runs the bundled bench/web_apply.ts in headless Debian
// chromium (playwright-core) and prints the stage's TSV rows.
// usage: node bench/web_apply.mjs BUNDLE.js ROWS BINS DENSITY_PERCENT DELTAS
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const [bundle, rows, bins, density, deltas] = process.argv.slice(2);
const pw = createRequire(new URL('../web/package.json', import.meta.url))('playwright-core');
const browser = await pw.chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.setContent('<!doctype html><body><div id="host"></div></body>');
await page.addStyleTag({ path: new URL('../build/web/app.css', import.meta.url).pathname }); /* the dashboard's CSS */
await page.addScriptTag({ content: readFileSync(bundle, 'utf8') });
const r = await page.evaluate(([a, b, c, d]) => window.benchRun(a, b, c, d), [Number(rows), Number(bins), Number(density), Number(deltas)]);
await browser.close();
const input = `${rows}x${bins}@${density}%`;
const units = { elements: 'count', svg_bytes: 'bytes', delta_bytes: 'bytes' };
for (const [k, v] of Object.entries(r))
  console.log(['web', input, k, Number.isInteger(v) ? v : v.toFixed(2), units[k] ?? 'ms', '-', '-', k.startsWith('apply') || k === 'delta_bytes' ? `per delta: the newest bin of each of ${rows} rows changed, the next added` : ''].join('\t'));
