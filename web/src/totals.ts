// The totals table: the rows of GET /api/sessions/{id}/totals in the report's order, laid out
// as liveprof analyze's totals.txt (name, ns, seconds), section rows as headings.

import { getJson, sessionPath, type TotalsRow } from './api';
import { h } from './dom';
import { hsFixed } from './hsfmt';

export class TotalsTable {
  readonly el: HTMLElement;
  private body: HTMLTableSectionElement;
  private note: HTMLElement;
  private last = '';

  constructor(private sessionId: string) {
    this.body = h('tbody');
    this.note = h('span', { class: 'muted' });
    this.el = h(
      'section',
      { class: 'card totals', id: 'totals' },
      h('header', { class: 'card-head' }, h('h2', {}, 'Totals'), this.note),
      h(
        'table',
        { class: 'table', id: 'totals-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'name'), h('th', { class: 'num' }, 'ns'), h('th', { class: 'num' }, 'seconds'))),
        this.body,
      ),
    );
  }

  /** Fetches the totals again; rebuilds the rows only when they changed. */
  async refresh(): Promise<void> {
    const t = await getJson<{ rows: TotalsRow[]; final?: boolean }>(sessionPath(this.sessionId, '/totals'));
    this.note.textContent = t.final === false ? 'so far (still ingesting)' : '';
    const key = JSON.stringify(t.rows);
    if (key === this.last) return;
    this.last = key;
    const rows: HTMLTableRowElement[] = [];
    for (const r of t.rows) {
      if (r.kind === 'section') {
        rows.push(h('tr', { class: 'section', 'data-kind': r.kind }, h('th', { colspan: '3' }, r.name)));
        continue;
      }
      const ns = r.total_ns ?? 0;
      rows.push(
        h(
          'tr',
          { class: `kind-${r.kind}`, 'data-kind': r.kind },
          h('td', {}, r.name),
          h('td', { class: 'num' }, `${ns}ns`),
          h('td', { class: 'num' }, `${hsFixed(ns / 1e9, 3)}s`),
        ),
      );
    }
    this.body.replaceChildren(...rows);
  }
}
