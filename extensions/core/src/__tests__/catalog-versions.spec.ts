/**
 * A lake table's versions in the table view: which tables have them, how a
 * version reads, and the Versions part in a DOM (choosing one previews it).
 */
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

// No @types/react-dom here: the two calls used, typed by hand.
interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
declare const require: (id: string) => unknown;
const { createRoot } = require('react-dom/client') as {
  createRoot: (container: Element) => IRoot;
};

import { tabsOf } from '../catalog/components/tableParts';
import { VersionsList } from '../catalog/components/VersionsList';
import { ITable, ITableVersion } from '../catalog/tokens';
import {
  formatCount,
  hasVersions,
  lastWrite,
  versionOperation,
  versionWriter
} from '../catalog/versions';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

const trans = nullTranslator.load('jupyterlab');

function table(extra: { [key: string]: unknown }, schema = 'silver'): ITable {
  return {
    id: 7,
    connection: 'lake',
    schema,
    name: 'moves',
    kind: 'dataset',
    layer: schema,
    label: null,
    odoo_model: null,
    module: null,
    row_estimate: 4,
    size_bytes: 100,
    comment: null,
    extra,
    description: null,
    tags: [],
    auto_tags: [],
    steward: null,
    certified: false,
    usage_count: 0,
    first_seen: '2026-11-30T18:00:00',
    last_seen: '2026-11-30T18:00:00',
    dropped_at: null
  };
}

function version(
  n: number,
  mode: string | null,
  operation = 'WRITE',
  writer = 'pipeline close run r-7 step merge attempt 2 by ana'
): ITableVersion {
  return {
    version: n,
    timestamp: `2026-11-30T18:0${n}:00+00:00`,
    operation,
    mode,
    writer: null,
    writer_text: writer,
    rows_added: n * 1000,
    rows_updated: mode === 'merge' ? 3 : 0,
    rows_removed: mode === 'merge' ? 1 : null,
    keys: null
  };
}

describe('which tables have versions', () => {
  it('is a Delta table of a lake layer that could be read', () => {
    expect(hasVersions(table({ format: 'delta', version: 3 }))).toBe(true);
    expect(hasVersions(table({ format: 'parquet' }))).toBe(false);
    expect(hasVersions(table({ format: 'delta' }, 'main'))).toBe(false);
    expect(hasVersions(table({ format: 'delta', error: 'bad log' }))).toBe(
      false
    );
    expect(hasVersions(table({}))).toBe(false);
  });

  it('gives only those a Versions tab, after Preview', () => {
    expect(tabsOf(table({ format: 'delta' }))).toEqual([
      'columns',
      'preview',
      'versions',
      'lineage',
      'history'
    ]);
    expect(tabsOf(table({ format: 'parquet' }))).not.toContain('versions');
  });

  it('reads the last write the scan kept', () => {
    const delta = table({
      format: 'delta',
      version: 3,
      versions: 4,
      last_write: '2026-11-30T18:03:00+00:00',
      last_writer: 'notebook close.ipynb by bob',
      last_operation: 'merge'
    });
    expect(lastWrite(delta)).toEqual({
      version: 3,
      versions: 4,
      when: '2026-11-30T18:03:00+00:00',
      who: 'notebook close.ipynb by bob',
      operation: 'merge'
    });
    expect(lastWrite(table({ format: 'parquet' }))).toBeNull();
  });
});

describe('a version in words', () => {
  it("says the workbench's write where it recorded one", () => {
    expect(versionOperation(version(2, 'merge'))).toBe('merge');
    expect(versionOperation(version(3, null, 'OPTIMIZE'))).toBe('optimize');
  });

  it('counts rows for people and leaves unknown counts empty', () => {
    expect(formatCount(1204)).toBe('1,204');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(null)).toBe('');
  });

  it('keeps the end of a long writer, where the notebook name is', () => {
    const long = `notebook ${'a/'.repeat(80)}close.ipynb by bob`;
    const shown = versionWriter(version(1, 'append', 'WRITE', long));
    expect(shown.length).toBe(120);
    expect(shown.endsWith('close.ipynb by bob')).toBe(true);
    expect(versionWriter(version(1, 'append', 'WRITE', ''))).toBe('');
  });
});

describe('the Versions part', () => {
  let host: HTMLDivElement;
  let root: IRoot;
  let previewed: number[];
  let more: number;

  function render(shown: number | null, hasMore: boolean): void {
    React.act(() => {
      root.render(
        React.createElement(VersionsList, {
          state: {
            status: 'ready',
            value: [
              version(3, null, 'OPTIMIZE', ''),
              version(2, 'merge'),
              version(1, 'append', 'WRITE', 'notebook close.ipynb by bob')
            ]
          },
          more: hasMore,
          shown,
          trans,
          onPreview: (v: number) => previewed.push(v),
          onMore: () => (more += 1),
          onRetry: () => undefined
        })
      );
    });
  }

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
    previewed = [];
    more = 0;
  });

  afterEach(() => {
    React.act(() => root.unmount());
    host.remove();
  });

  it('lists when, who, operation and rows, newest first', () => {
    render(null, false);
    const rows = Array.from(host.querySelectorAll('tbody tr')).map(row =>
      Array.from(row.querySelectorAll('td'))
        .slice(0, 7)
        .map(cell => cell.textContent)
    );
    expect(rows).toEqual([
      ['3', '2026-11-30 18:03', 'unknown', 'optimize', '3,000', '0', ''],
      [
        '2',
        '2026-11-30 18:02',
        'pipeline close run r-7 step merge attempt 2 by ana',
        'merge',
        '2,000',
        '3',
        '1'
      ],
      [
        '1',
        '2026-11-30 18:01',
        'notebook close.ipynb by bob',
        'append',
        '1,000',
        '0',
        ''
      ]
    ]);
    // A maintenance commit changed no rows: shown, but set back.
    expect(host.querySelector('tr[data-version="3"]')!.className).toContain(
      'jp-mod-maintenance'
    );
    expect(host.querySelector('.jp-WorkbenchCatalogTable-more')).toBeNull();
  });

  it('previews the version chosen and marks the one shown', () => {
    render(null, true);
    const button = host.querySelector<HTMLButtonElement>(
      'button[aria-label="Preview as of version 2"]'
    )!;
    React.act(() => button.click());
    expect(previewed).toEqual([2]);
    render(2, true);
    const shown = host.querySelector('tr[aria-current="true"]')!;
    expect(shown.getAttribute('data-version')).toBe('2');
    expect(shown.querySelector('button')!.getAttribute('aria-pressed')).toBe(
      'true'
    );
    React.act(() =>
      host
        .querySelector<HTMLButtonElement>('.jp-WorkbenchCatalogTable-more')!
        .click()
    );
    expect(more).toBe(1);
  });

  it('says why nothing is listed, and offers a retry after a failure', () => {
    let retried = 0;
    React.act(() => {
      root.render(
        React.createElement(VersionsList, {
          state: { status: 'error', error: 'no catalog table 7' },
          more: false,
          shown: null,
          trans,
          onPreview: () => undefined,
          onMore: () => undefined,
          onRetry: () => (retried += 1)
        })
      );
    });
    expect(host.textContent).toContain('Failed: no catalog table 7');
    React.act(() => host.querySelector<HTMLButtonElement>('button')!.click());
    expect(retried).toBe(1);
  });
});
