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
