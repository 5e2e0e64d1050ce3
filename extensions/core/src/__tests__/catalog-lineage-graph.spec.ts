import { LINEAGE_NODE_WIDTH, lineageLayout } from '../catalog/lineage';
import { IDatasetRef, ILineageEdge, ILineageGraph } from '../catalog/tokens';

function ref(label: string, tableId: number | null = null): IDatasetRef {
  const [namespace, name] = label.split(':');
  return { namespace, name, table_id: tableId };
}

function edge(source: IDatasetRef, target: IDatasetRef): ILineageEdge {
  return {
    source,
    target,
    source_column: null,
    target_column: null,
    transformation: null,
    job: 'close',
    run_id: null,
    last_seen: '2026-01-01T00:00:00'
  };
}

function graph(
  root: IDatasetRef,
  direction: 'upstream' | 'downstream',
  edges: ILineageEdge[]
): ILineageGraph {
  return { root, column: null, direction, depth: 3, datasets: [], edges };
}

describe('lineageLayout', () => {
  const root = ref('lake:silver.lines', 7);
  const moves = ref('odoo:public.account_move_line', 3);
  const accounts = ref('odoo:public.account_account', 4);
  const raw = ref('file:/exports/lines.csv');
  const pnl = ref('lake:gold.pnl', 9);

  const layout = lineageLayout(
    root,
    graph(root, 'upstream', [
      edge(moves, root),
      edge(accounts, root),
      edge(raw, moves), // two steps up
      edge(moves, root) // the same pair again (another column): one link
    ]),
    graph(root, 'downstream', [edge(root, pnl)])
  );
  const node = (label: string) =>
    layout.nodes.find(
      n => `${n.dataset.namespace}:${n.dataset.name}` === label
    )!;

  it('puts upstream left and downstream right of the table, by distance', () => {
    expect(node('file:/exports/lines.csv').column).toBe(-2);
    expect(node('odoo:public.account_move_line').column).toBe(-1);
    expect(node('lake:silver.lines').root).toBe(true);
    expect(node('lake:gold.pnl').column).toBe(1);
    const xs = ['file:/exports/lines.csv', 'odoo:public.account_move_line']
      .concat(['lake:silver.lines', 'lake:gold.pnl'])
      .map(label => node(label).x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(layout.width).toBeGreaterThanOrEqual(4 * LINEAGE_NODE_WIDTH);
  });

  it('keeps the catalog ids that make nodes open their table', () => {
    expect(node('odoo:public.account_move_line').tableId).toBe(3);
    expect(node('file:/exports/lines.csv').tableId).toBeNull();
  });

  it('draws one link per pair, from source to target', () => {
    expect(layout.links.map(l => `${l.from} -> ${l.to}`).sort()).toEqual([
      'file:/exports/lines.csv -> odoo:public.account_move_line',
      'lake:silver.lines -> lake:gold.pnl',
      'odoo:public.account_account -> lake:silver.lines',
      'odoo:public.account_move_line -> lake:silver.lines'
    ]);
    const link = layout.links.find(l => l.to === 'lake:gold.pnl')!;
    expect(link.points[0][0]).toBe(
      node('lake:silver.lines').x + LINEAGE_NODE_WIDTH
    );
    expect(link.points[1][0]).toBe(node('lake:gold.pnl').x);
  });

  it('shows a few datasets per column and counts the rest', () => {
    const many = Array.from({ length: 9 }, (_, i) => ref(`odoo:public.t${i}`));
    const wide = lineageLayout(
      root,
      graph(
        root,
        'upstream',
        many.map(m => edge(m, root))
      ),
      null,
      6
    );
    expect(wide.nodes.filter(n => n.column === -1)).toHaveLength(6);
    expect(wide.hidden).toEqual([
      expect.objectContaining({ column: -1, count: 3 })
    ]);
  });

  it('is only the table when nothing is recorded', () => {
    const alone = lineageLayout(root, null, null);
    expect(alone.nodes).toHaveLength(1);
    expect(alone.links).toEqual([]);
  });
});
