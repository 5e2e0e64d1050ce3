/**
 * A lineage graph as a list: each dataset up- or downstream of the root, how
 * many steps away, and through which jobs and columns.
 */
import { IDatasetRef, ILineageGraph } from './tokens';

/**
 * One dataset of the list.
 */
export interface ILineageRow {
  dataset: IDatasetRef;
  /**
   * Steps from the root (1 = read or written directly).
   */
  distance: number;
  /**
   * Jobs of the edges that reach this dataset, sorted.
   */
  jobs: string[];
  /**
   * `source → target` column pairs of those edges, sorted.
   */
  columns: string[];
}

/**
 * `namespace:name`, the way lineage names a dataset.
 */
export function datasetLabel(dataset: IDatasetRef): string {
  return `${dataset.namespace}:${dataset.name}`;
}

/**
 * The lineage dataset of a catalog table: its connection and `schema.table`.
 */
export function datasetOf(table: {
  connection: string;
  schema: string;
  name: string;
}): IDatasetRef {
  return {
    namespace: table.connection,
    name: table.schema ? `${table.schema}.${table.name}` : table.name
  };
}

/**
 * The datasets of a graph other than its root, nearest first, then by name.
 *
 * Distances are walked over the edges in the graph's direction (upstream:
 * from target to source), so a dataset reached both directly and through
 * another is listed once, at its shortest distance.
 */
export function lineageRows(graph: ILineageGraph): ILineageRow[] {
  const key = datasetLabel;
  const upstream = graph.direction === 'upstream';
  const next = new Map<string, typeof graph.edges>();
  for (const edge of graph.edges) {
    const from = key(upstream ? edge.target : edge.source);
    const list = next.get(from) ?? [];
    list.push(edge);
    next.set(from, list);
  }
  const rows = new Map<string, ILineageRow>();
  const rootKey = key(graph.root);
  const seen = new Set([rootKey]);
  let frontier = [rootKey];
  for (let distance = 1; frontier.length > 0; distance++) {
    const reached: string[] = [];
    for (const from of frontier) {
      for (const edge of next.get(from) ?? []) {
        const dataset = upstream ? edge.source : edge.target;
        const to = key(dataset);
        if (to === rootKey) {
          continue;
        }
        let row = rows.get(to);
        if (!row) {
          row = { dataset, distance, jobs: [], columns: [] };
          rows.set(to, row);
        }
        if (row.distance === distance) {
          if (!row.jobs.includes(edge.job)) {
            row.jobs.push(edge.job);
          }
          if (edge.source_column || edge.target_column) {
            const pair = `${edge.source_column ?? '?'} → ${edge.target_column ?? '?'}`;
            if (!row.columns.includes(pair)) {
              row.columns.push(pair);
            }
          }
        }
        if (!seen.has(to)) {
          seen.add(to);
          reached.push(to);
        }
      }
    }
    frontier = reached;
  }
  return [...rows.values()]
    .map(row => ({
      ...row,
      jobs: row.jobs.sort(),
      columns: row.columns.sort()
    }))
    .sort(
      (a, b) =>
        a.distance - b.distance || key(a.dataset).localeCompare(key(b.dataset))
    );
}

/**
 * Size of a node of the lineage drawing, and the gaps between nodes.
 */
export const LINEAGE_NODE_WIDTH = 190;
export const LINEAGE_NODE_HEIGHT = 36;
const COLUMN_GAP = 56;
const ROW_GAP = 10;
const PADDING = 8;

/**
 * Datasets drawn per column at most; the rest are counted in a "more" note
 * (the lists under the drawing have them all).
 */
export const LINEAGE_COLUMN_LIMIT = 6;

/**
 * A dataset placed in the drawing.
 */
export interface ILineageNode {
  key: string;
  dataset: IDatasetRef;
  /**
   * Steps from the root: negative upstream, 0 the root, positive downstream.
   */
  column: number;
  x: number;
  y: number;
  root: boolean;
  /**
   * Catalog id of the dataset's table, when it has one (then it opens).
   */
  tableId: number | null;
}

/**
 * An edge of the drawing, from the right side of its source to the left
 * side of its target.
 */
export interface ILineageLink {
  from: string;
  to: string;
  points: [[number, number], [number, number]];
}

/**
 * The laid-out drawing.
 */
export interface ILineageLayout {
  nodes: ILineageNode[];
  links: ILineageLink[];
  /**
   * Column -> datasets not drawn because the column was full.
   */
  hidden: { column: number; count: number; x: number; y: number }[];
  width: number;
  height: number;
}

/**
 * Lay out the up- and downstream graphs of `root` left to right: upstream
 * datasets in columns left of the root by their distance, downstream ones
 * right of it, each column centred on the root's row.
 */
export function lineageLayout(
  root: IDatasetRef,
  upstream: ILineageGraph | null,
  downstream: ILineageGraph | null,
  limit: number = LINEAGE_COLUMN_LIMIT
): ILineageLayout {
  const rootKey = datasetLabel(root);
  const columns = new Map<number, IDatasetRef[]>([[0, [root]]]);
  const placed = new Map<string, number>([[rootKey, 0]]);
  const place = (rows: ILineageRow[], sign: number) => {
    for (const row of rows) {
      const key = datasetLabel(row.dataset);
      if (placed.has(key)) {
        continue; // in both directions (a cycle): drawn once, upstream
      }
      const column = sign * row.distance;
      placed.set(key, column);
      const list = columns.get(column) ?? [];
      list.push(row.dataset);
      columns.set(column, list);
    }
  };
  place(upstream ? lineageRows(upstream) : [], -1);
  place(downstream ? lineageRows(downstream) : [], 1);

  const order = [...columns.keys()].sort((a, b) => a - b);
  const shown = new Map<number, IDatasetRef[]>();
  let tallest = 1;
  for (const column of order) {
    const list = columns.get(column)!;
    const rows = Math.min(list.length, limit) + (list.length > limit ? 1 : 0);
    tallest = Math.max(tallest, rows);
    shown.set(column, list.slice(0, limit));
  }
  const rowHeight = LINEAGE_NODE_HEIGHT + ROW_GAP;
  const height = tallest * rowHeight - ROW_GAP + 2 * PADDING;
  const width =
    order.length * (LINEAGE_NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP + 2 * PADDING;

  const nodes: ILineageNode[] = [];
  const byKey = new Map<string, ILineageNode>();
  const hidden: ILineageLayout['hidden'] = [];
  order.forEach((column, i) => {
    const list = shown.get(column)!;
    const extra = columns.get(column)!.length - list.length;
    const rows = list.length + (extra > 0 ? 1 : 0);
    const top = PADDING + ((tallest - rows) * rowHeight) / 2;
    const x = PADDING + i * (LINEAGE_NODE_WIDTH + COLUMN_GAP);
    list.forEach((dataset, j) => {
      const key = datasetLabel(dataset);
      const node: ILineageNode = {
        key,
        dataset,
        column,
        x,
        y: top + j * rowHeight,
        root: key === rootKey,
        tableId: dataset.table_id ?? null
      };
      nodes.push(node);
      byKey.set(key, node);
    });
    if (extra > 0) {
      hidden.push({
        column,
        count: extra,
        x,
        y: top + list.length * rowHeight
      });
    }
  });

  const links: ILineageLink[] = [];
  const seen = new Set<string>();
  for (const graph of [upstream, downstream]) {
    for (const edge of graph?.edges ?? []) {
      const from = byKey.get(datasetLabel(edge.source));
      const to = byKey.get(datasetLabel(edge.target));
      const id = `${from?.key}\u0000${to?.key}`;
      if (!from || !to || from === to || seen.has(id)) {
        continue;
      }
      seen.add(id);
      const middle = LINEAGE_NODE_HEIGHT / 2;
      links.push({
        from: from.key,
        to: to.key,
        points: [
          [from.x + LINEAGE_NODE_WIDTH, from.y + middle],
          [to.x, to.y + middle]
        ]
      });
    }
  }
  return { nodes, links, hidden, width, height };
}
