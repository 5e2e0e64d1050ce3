import { ServerConnection } from '@jupyterlab/services';

import {
  formatCell,
  formatRowEstimate,
  formatTimestamp,
  parseTags
} from '../catalog/format';
import { datasetOf, lineageRows } from '../catalog/lineage';
import { ILineageEdge, ILineageGraph } from '../catalog/tokens';
import { navigate, scrollToShow, visibleRange } from '../catalog/virtual';
import { APIError, describeError, withQuery } from '../request';

function edge(
  source: string,
  target: string,
  job: string,
  columns: [string, string] | null = null
): ILineageEdge {
  const ref = (label: string) => {
    const [namespace, name] = label.split(':');
    return { namespace, name };
  };
  return {
    source: ref(source),
    target: ref(target),
    source_column: columns?.[0] ?? null,
    target_column: columns?.[1] ?? null,
    transformation: null,
    job,
    run_id: null,
    last_seen: '2026-01-01T00:00:00'
  };
}

describe('lineageRows', () => {
  it('lists upstream datasets nearest first, each once, with jobs and columns', () => {
    const graph: ILineageGraph = {
      root: { namespace: 'lake', name: 'gold.pnl' },
      column: null,
      direction: 'upstream',
      depth: 3,
      datasets: [],
      edges: [
        edge('lake:silver.lines', 'lake:gold.pnl', 'close.pnl'),
        edge('lake:silver.lines', 'lake:gold.pnl', 'close.pnl', [
          'balance',
          'amount'
        ]),
        edge(
          'odoo:public.account_move_line',
          'lake:silver.lines',
          'close.lines'
        ),
        // Also read directly by the root: listed once, at distance 1.
        edge(
          'odoo:public.account_move_line',
          'lake:gold.pnl',
          'notebook:adhoc.ipynb'
        ),
        // Not reachable upstream of the root.
        edge('lake:gold.pnl', 'lake:gold.report', 'close.report')
      ]
    };
    const rows = lineageRows(graph);
    expect(
      rows.map(r => [
        `${r.dataset.namespace}:${r.dataset.name}`,
        r.distance,
        r.jobs,
        r.columns
      ])
    ).toEqual([
      ['lake:silver.lines', 1, ['close.pnl'], ['balance → amount']],
      ['odoo:public.account_move_line', 1, ['notebook:adhoc.ipynb'], []]
    ]);
  });

  it('walks downstream from source to target', () => {
    const graph: ILineageGraph = {
      root: { namespace: 'demo_odoo', name: 'main.res_partner' },
      column: null,
      direction: 'downstream',
      depth: 3,
      datasets: [],
      edges: [
        edge('demo_odoo:main.res_partner', 'lake:silver.partners', 'a'),
        edge('lake:silver.partners', 'lake:gold.segments', 'b')
      ]
    };
    expect(lineageRows(graph).map(r => [r.dataset.name, r.distance])).toEqual([
      ['silver.partners', 1],
      ['gold.segments', 2]
    ]);
  });

  it('names a catalog table as lineage does', () => {
    expect(
      datasetOf({
        connection: 'demo_odoo',
        schema: 'main',
        name: 'account_move'
      })
    ).toEqual({ namespace: 'demo_odoo', name: 'main.account_move' });
  });
});

describe('visibleRange', () => {
  it('renders the viewport plus the overscan, never beyond the list', () => {
    expect(visibleRange(0, 400, 40, 10000, 5)).toEqual({ start: 0, end: 16 });
    expect(visibleRange(4000, 400, 40, 10000, 5)).toEqual({
      start: 95,
      end: 116
    });
    expect(visibleRange(399_600, 400, 40, 10000, 5)).toEqual({
      start: 9985,
      end: 10000
    });
    expect(visibleRange(0, 400, 40, 0)).toEqual({ start: 0, end: 0 });
  });

  it('keeps a page of rows at most, whatever the list length', () => {
    const { start, end } = visibleRange(123_456, 600, 26, 1_000_000, 5);
    expect(end - start).toBeLessThanOrEqual(Math.ceil(600 / 26) + 1 + 10);
  });
});

describe('scrollToShow', () => {
  it('scrolls the least needed to show a row', () => {
    expect(scrollToShow(5, 0, 400, 40)).toBe(0); // visible
    expect(scrollToShow(10, 0, 400, 40)).toBe(40); // just below
    expect(scrollToShow(2, 200, 400, 40)).toBe(80); // above
  });
});

describe('navigate', () => {
  it('moves with arrows, pages and ends, within the list', () => {
    expect(navigate('ArrowDown', -1, 5, 3)).toBe(0);
    expect(navigate('ArrowDown', 4, 5, 3)).toBe(4);
    expect(navigate('ArrowUp', 0, 5, 3)).toBe(0);
    expect(navigate('PageDown', 0, 10, 3)).toBe(3);
    expect(navigate('PageUp', 2, 10, 3)).toBe(0);
    expect(navigate('End', 0, 10, 3)).toBe(9);
    expect(navigate('Home', 7, 10, 3)).toBe(0);
    expect(navigate('Enter', 1, 10, 3)).toBeNull();
    expect(navigate('ArrowDown', 0, 0, 3)).toBeNull();
  });
});

describe('format', () => {
  it('parses tags as the server wants them', () => {
    expect(parseTags(' Finance, month-end  pii,finance ,, ')).toEqual([
      'finance',
      'month-end',
      'pii'
    ]);
    expect(parseTags('')).toEqual([]);
  });

  it('formats row estimates, cells and timestamps', () => {
    expect(formatRowEstimate(6396)).toBe('6,396 rows');
    expect(formatRowEstimate(1)).toBe('1 row');
    expect(formatRowEstimate(12_345_678)).toBe('~12.3M rows');
    expect(formatRowEstimate(null)).toBe('');
    expect(formatCell(null)).toBe('NULL');
    expect(formatCell({ a: 1 })).toBe('{"a":1}');
    expect(formatCell(1.5)).toBe('1.5');
    expect(formatTimestamp('2026-11-26T01:33:53.927357')).toBe(
      '2026-11-26 01:33'
    );
  });
});

describe('request helpers', () => {
  it('builds query strings without empty parameters', () => {
    expect(
      withQuery('catalog/tables', {
        connection: 'demo odoo',
        schema: undefined,
        offset: 0,
        limit: 200,
        q: ''
      })
    ).toBe('catalog/tables?connection=demo%20odoo&offset=0&limit=200');
    expect(withQuery('catalog/sources', {})).toBe('catalog/sources');
  });

  it("describes an API error with the server's message", () => {
    const response = new Response('', { status: 400 });
    const error = new APIError(response, {
      message:
        "tag 'bad tag!': use up to 50 letters, digits and '-', '_', ':' or '.'",
      reason: 'Bad Request'
    });
    expect(describeError(error)).toBe(
      "tag 'bad tag!': use up to 50 letters, digits and '-', '_', ':' or '.'"
    );
    expect(
      describeError(new APIError(new Response('', { status: 502 }), ''))
    ).toBe('the workbench API answered HTTP 502');
    expect(
      describeError(new ServerConnection.NetworkError(new TypeError('x')))
    ).toContain('no answer from the Jupyter server');
  });
});
