import { ISource, ITable, ITablesPage } from '../catalog/tokens';
import {
  discoverSchemas,
  EMPTY_TREE,
  flattenTree,
  ITreeState,
  schemaKey,
  sourceKey,
  TablesFetcher,
  TreeModel
} from '../catalog/tree';

function table(id: number, schema: string, name: string): ITable {
  return {
    id,
    connection: 'wh',
    schema,
    name,
    kind: 'table',
    layer: null,
    label: null,
    odoo_model: null,
    module: null,
    row_estimate: null,
    size_bytes: null,
    comment: null,
    extra: {},
    description: null,
    tags: [],
    auto_tags: [],
    steward: null,
    certified: false,
    usage_count: 0,
    first_seen: '2026-01-01T00:00:00',
    last_seen: '2026-01-01T00:00:00',
    dropped_at: null
  };
}

/**
 * `GET catalog/tables` over a fixed list, as the server answers it: ordered
 * by schema and name, filtered by schema, a limit from 1 to 500 (anything
 * else is a 400 there).
 */
function fakeServer(counts: { [schema: string]: number }) {
  const all: ITable[] = [];
  let id = 1;
  for (const schema of Object.keys(counts).sort()) {
    for (let i = 0; i < counts[schema]; i++) {
      all.push(table(id++, schema, `t${String(i).padStart(5, '0')}`));
    }
  }
  const requests: string[] = [];
  const fetch: TablesFetcher = async ({ schema, offset, limit }) => {
    requests.push(`${schema ?? '*'}@${offset}+${limit}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new Error('limit: a whole number from 1 to 500');
    }
    const rows = schema ? all.filter(t => t.schema === schema) : all;
    const page: ITablesPage = {
      total: rows.length,
      offset,
      limit,
      items: rows.slice(offset, offset + limit)
    };
    return page;
  };
  return { fetch, requests };
}

describe('discoverSchemas', () => {
  it('finds every schema and its size in one page when it fits', async () => {
    const server = fakeServer({ main: 3, audit: 2 });
    const schemas = await discoverSchemas('wh', server.fetch, 200);
    expect(schemas).toEqual([
      { name: 'audit', tables: 2 },
      { name: 'main', tables: 3 }
    ]);
    expect(server.requests).toEqual(['*@0+200']);
  });

  it('skips over big schemas with about two requests each', async () => {
    const server = fakeServer({ a: 5, big: 10000, c: 1, d: 450, e: 7 });
    const schemas = await discoverSchemas('wh', server.fetch, 200);
    expect(schemas).toEqual([
      { name: 'a', tables: 5 },
      { name: 'big', tables: 10000 },
      { name: 'c', tables: 1 },
      { name: 'd', tables: 450 },
      { name: 'e', tables: 7 }
    ]);
    // Not 53 pages of 200: a count per big schema and a page after each.
    expect(server.requests).toEqual([
      '*@0+200',
      'big@0+1',
      '*@10005+200',
      'd@0+1',
      '*@10456+200'
    ]);
  });

  it('answers nothing for an empty connection', async () => {
    const server = fakeServer({});
    await expect(discoverSchemas('wh', server.fetch, 200)).resolves.toEqual([]);
  });
});

describe('flattenTree', () => {
  const sources: ISource[] = [
    {
      connection: 'demo_odoo',
      kind: 'duckdb',
      scannable: true,
      tables: 2,
      last_scan: null
    },
    {
      connection: 'lake',
      kind: 'lake',
      scannable: true,
      tables: 0,
      last_scan: null
    }
  ];

  it('shows a loading row before the sources arrive', () => {
    const rows = flattenTree(EMPTY_TREE);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'status', status: 'loading' });
  });

  it('lists sources, and under expanded ones their schemas and tables', () => {
    const key = schemaKey('demo_odoo', 'main');
    const state: ITreeState = {
      ...EMPTY_TREE,
      sources,
      sourcesStatus: 'ready',
      expanded: new Set([sourceKey('demo_odoo'), key]),
      schemas: {
        demo_odoo: {
          status: 'ready',
          schemas: [
            { name: 'main', tables: 3 },
            { name: 'x', tables: 1 }
          ],
          error: null
        }
      },
      tables: {
        [key]: {
          status: 'ready',
          items: [
            table(1, 'main', 'account_move'),
            table(2, 'main', 'res_partner')
          ],
          total: 3,
          error: null
        }
      }
    };
    const rows = flattenTree(state);
    expect(
      rows.map(r =>
        r.kind === 'source'
          ? `${r.depth} source ${r.source.connection} ${r.expanded}`
          : r.kind === 'schema'
            ? `${r.depth} schema ${r.schema.name} ${r.expanded}`
            : r.kind === 'table'
              ? `${r.depth} table ${r.table.name}`
              : `${r.depth} ${r.status} ${r.loaded}/${r.total}`
      )
    ).toEqual([
      '0 source demo_odoo true',
      '1 schema main true',
      '2 table account_move',
      '2 table res_partner',
      '2 more 2/3',
      '1 schema x false',
      '0 source lake false'
    ]);
    expect(new Set(rows.map(r => r.key)).size).toBe(rows.length);
  });

  it('shows why loading failed where it failed', () => {
    const state: ITreeState = {
      ...EMPTY_TREE,
      sources,
      sourcesStatus: 'ready',
      expanded: new Set([sourceKey('lake')]),
      schemas: {
        lake: { status: 'error', schemas: [], error: 'lake is gone' }
      }
    };
    expect(flattenTree(state)[2]).toMatchObject({
      kind: 'status',
      status: 'error',
      error: 'lake is gone',
      owner: sourceKey('lake'),
      depth: 1
    });
  });
});

describe('TreeModel', () => {
  it('loads schemas on expand, opens a lone schema, and pages its tables', async () => {
    const server = fakeServer({ main: 5 });
    const errors: string[] = [];
    const model = new TreeModel({
      fetchSources: async () => [
        {
          connection: 'wh',
          kind: 'duckdb',
          scannable: true,
          tables: 5,
          last_scan: null
        }
      ],
      fetchTables: server.fetch,
      onChange: () => undefined,
      onError: (_, what) => errors.push(what),
      pageSize: 2
    });
    await model.reload();
    expect(server.requests).toEqual([]); // nothing before it is expanded
    model.toggle(sourceKey('wh'));
    await new Promise(resolve => setTimeout(resolve, 0));
    const key = schemaKey('wh', 'main');
    expect(model.state.expanded.has(key)).toBe(true);
    expect(model.state.tables[key]).toMatchObject({
      status: 'ready',
      total: 5
    });
    expect(model.state.tables[key].items.map(t => t.name)).toEqual([
      't00000',
      't00001'
    ]);
    await model.loadMore(key);
    await model.loadMore(key);
    await model.loadMore(key); // all loaded: no request
    expect(model.state.tables[key].items).toHaveLength(5);
    // The lone schema is larger than a page: counted first (with a limit the
    // server accepts; `limit=0` was a 400 and the schema never opened).
    expect(server.requests.filter(r => r.startsWith('main@'))).toEqual([
      'main@0+1',
      'main@0+2',
      'main@2+2',
      'main@4+2'
    ]);
    expect(errors).toEqual([]);
  });

  it('reports a failing source and retries it', async () => {
    let fail = true;
    const errors: string[] = [];
    const model = new TreeModel({
      fetchSources: async () => {
        if (fail) {
          throw new Error('no answer');
        }
        return [];
      },
      fetchTables: fakeServer({}).fetch,
      onChange: () => undefined,
      onError: (_, what) => errors.push(what)
    });
    await model.reload();
    expect(model.state.sourcesStatus).toBe('error');
    expect(flattenTree(model.state)[0]).toMatchObject({
      status: 'error',
      error: 'no answer'
    });
    expect(errors).toEqual(['sources']);
    fail = false;
    await model.reload();
    expect(flattenTree(model.state)).toEqual([
      expect.objectContaining({ status: 'empty', owner: 'sources' })
    ]);
  });
});
