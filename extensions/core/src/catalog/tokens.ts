/**
 * Shapes of the catalog and lineage REST API, mirroring the server's pydantic
 * models (`workbench_server.catalog.service`, `workbench_server.lineage.service`).
 */

/**
 * Facets the search endpoint counts and filters by (`catalog.search.FACETS`),
 * in the order the panel shows them.
 */
export const FACETS = [
  'connection',
  'schema',
  'layer',
  'kind',
  'tag',
  'steward'
] as const;

/**
 * One facet name.
 */
export type Facet = (typeof FACETS)[number];

/**
 * A catalog scan (`ScanOut`).
 */
export interface IScan {
  id: number;
  connection: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  stats: { [key: string]: unknown };
}

/**
 * A connection as the catalog sees it (`SourceOut`).
 */
export interface ISource {
  connection: string;
  kind: string;
  scannable: boolean;
  tables: number;
  last_scan: IScan | null;
}

/**
 * A catalog table without its columns (`TableOut`).
 */
export interface ITable {
  id: number;
  connection: string;
  schema: string;
  name: string;
  kind: string;
  layer: string | null;
  label: string | null;
  odoo_model: string | null;
  module: string | null;
  row_estimate: number | null;
  size_bytes: number | null;
  comment: string | null;
  extra: { [key: string]: unknown };
  description: string | null;
  tags: string[];
  auto_tags: string[];
  steward: string | null;
  certified: boolean;
  usage_count: number;
  first_seen: string;
  last_seen: string;
  dropped_at: string | null;
}

/**
 * A table's freshness as the catalog knows it now (`TableFreshness`): what
 * the panel polls while the table is open.
 */
export interface ITableFreshness {
  id: number;
  version: number | null;
  versions: number | null;
  last_write: string | null;
  last_writer: string | null;
  last_operation: string | null;
  row_estimate: number | null;
}

/**
 * A column of a catalog table (`ColumnOut`).
 */
export interface IColumn {
  name: string;
  position: number;
  data_type: string;
  nullable: boolean;
  default: string | null;
  primary_key: boolean;
  references: string | null;
  comment: string | null;
  label: string | null;
  help: string | null;
  odoo_type: string | null;
  relation: string | null;
  selection: string[][];
  module: string | null;
  auto_tags: string[];
  description: string | null;
  tags: string[];
  dropped_at: string | null;
}

/**
 * One recorded schema change (`ChangeOut`).
 */
export interface IChange {
  change: string;
  column: string | null;
  old: string | null;
  new: string | null;
  at: string;
  scan_id: number | null;
}

/**
 * A catalog table with its columns and schema history (`TableDetail`).
 */
export interface ITableDetail extends ITable {
  columns: IColumn[];
  history: IChange[];
}

/**
 * Body of `GET catalog/tables`.
 */
export interface ITablesPage {
  total: number;
  offset: number;
  limit: number;
  items: ITable[];
}

/**
 * A column of a preview (`PreviewColumn`).
 */
export interface IPreviewColumn {
  name: string;
  type: string;
  masked: boolean;
}

/**
 * Body of `GET catalog/tables/{id}/preview` (`PreviewOut`).
 */
export interface IPreview {
  table: string;
  columns: IPreviewColumn[];
  rows: unknown[][];
  /**
   * What the server wants people to know, e.g. that the rows were cut off.
   */
  notes: string[];
  elapsed_ms: number;
  /**
   * The lake table's version shown; null for its current rows.
   */
  version?: number | null;
}

/**
 * Who made a write to a lake table (`lake.WriterInfo`): a pipeline run's
 * step and attempt, or a notebook and its user.
 */
export interface IWriter {
  pipeline: string | null;
  run_id: string | null;
  step: string | null;
  attempt: number | null;
  notebook: string | null;
  user: string | null;
  tool: string | null;
}

/**
 * One version of a lake table, from its commit (`lake.TableVersion`).
 */
export interface ITableVersion {
  version: number;
  timestamp: string;
  /**
   * Delta's operation: WRITE, MERGE, DELETE, OPTIMIZE…
   */
  operation: string;
  /**
   * The workbench's write: append, overwrite, merge, scd2, delete…
   */
  mode: string | null;
  writer: IWriter | null;
  /**
   * The writer in one line, e.g. `pipeline close run r1 step load attempt 2`.
   */
  writer_text: string;
  rows_added: number | null;
  rows_updated: number | null;
  rows_removed: number | null;
  keys: string[] | null;
}

/**
 * One search result (`SearchHit`).
 */
export interface ISearchHit {
  table: ITable;
  score: number;
  matched_columns: string[];
}

/**
 * Body of `GET catalog/search` (`SearchPage`).
 */
export interface ISearchPage {
  query: string;
  total: number;
  hits: ISearchHit[];
  /**
   * Facet -> value -> number of matching tables.
   */
  facets: { [facet: string]: { [value: string]: number } };
}

/**
 * Body of `PATCH catalog/tables/{id}` (`TablePatch`).
 */
export interface ITablePatch {
  description?: string | null;
  tags?: string[];
  steward?: string | null;
  certified?: boolean;
}

/**
 * Body of `PATCH catalog/tables/{id}/columns/{column}` (`ColumnPatch`).
 */
export interface IColumnPatch {
  description?: string | null;
  tags?: string[];
}

/**
 * A lineage dataset: the connection (or `file`) and `schema.table`
 * (`DatasetRef`).
 */
export interface IDatasetRef {
  namespace: string;
  name: string;
  /**
   * Catalog id of the dataset's table, when the catalog has it.
   */
  table_id?: number | null;
}

/**
 * A lineage edge (`EdgeOut`).
 */
export interface ILineageEdge {
  source: IDatasetRef;
  target: IDatasetRef;
  source_column: string | null;
  target_column: string | null;
  transformation: string | null;
  job: string;
  run_id: string | null;
  last_seen: string;
}

/**
 * Direction of a lineage walk.
 */
export type LineageDirection = 'upstream' | 'downstream';

/**
 * Body of `GET lineage` (`LineageGraph`).
 */
export interface ILineageGraph {
  root: IDatasetRef;
  column: string | null;
  direction: LineageDirection;
  depth: number;
  datasets: IDatasetRef[];
  edges: ILineageEdge[];
}
