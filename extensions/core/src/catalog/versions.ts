/**
 * A lake table's versions as the table view shows them.
 */
import { ITable, ITableFreshness, ITableVersion } from './tokens';

/**
 * Layers whose Delta tables the lake library keeps versions of.
 */
const LAYERS = ['bronze', 'silver', 'gold'];

/**
 * Versions a page of the Versions part asks for.
 */
export const VERSIONS_PAGE = 50;

/**
 * Commits that rewrite files without changing rows.
 */
const MAINTENANCE = ['OPTIMIZE', 'VACUUM START', 'VACUUM END'];

/**
 * Whether the table has versions to list: a Delta table of a lake's layers
 * (a Parquet dataset, or a table of a database, has none).
 */
export function hasVersions(table: ITable): boolean {
  return (
    table.extra?.format === 'delta' &&
    table.schema !== undefined &&
    LAYERS.includes(table.schema) &&
    !table.extra?.error
  );
}

/**
 * What a version did, in the workbench's words (`merge`, `append`, `scd2`…)
 * where it recorded them, else Delta's operation in lower case.
 */
export function versionOperation(version: ITableVersion): string {
  return version.mode ?? version.operation.toLowerCase();
}

/**
 * Whether the version changed no rows (optimize, vacuum).
 */
export function isMaintenance(version: ITableVersion): boolean {
  return MAINTENANCE.includes(version.operation);
}

/**
 * A row count for a cell: `1,204`, or empty when the commit did not say.
 */
export function formatCount(count: number | null | undefined): string {
  return typeof count === 'number' && Number.isFinite(count)
    ? count.toLocaleString('en-US')
    : '';
}

/**
 * Who wrote a version, in one line; a pipeline run's `run_id` is kept
 * whole, a long notebook path keeps its end (where its name is).
 */
export function versionWriter(version: ITableVersion): string {
  const text = version.writer_text;
  if (!text) {
    return '';
  }
  return text.length > 120 ? `…${text.slice(text.length - 119)}` : text;
}

/**
 * The facts of a Delta table's last write kept by the catalog's scan:
 * `{version, versions, when, who, operation}`; null for any other table.
 */
export function lastWrite(table: ITable): {
  version: number | null;
  versions: number | null;
  when: string | null;
  who: string | null;
  operation: string | null;
} | null {
  const extra = table.extra ?? {};
  if (extra.format !== 'delta') {
    return null;
  }
  const num = (value: unknown) => (typeof value === 'number' ? value : null);
  const str = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    version: num(extra.version),
    versions: num(extra.versions),
    when: str(extra.last_write),
    who: str(extra.last_writer),
    operation: str(extra.last_operation)
  };
}

/**
 * `table` with the freshness the server reported, or null when nothing the
 * panel shows changed (an older version than shown is ignored too).
 */
export function withFreshness<T extends ITable>(
  table: T,
  fresh: ITableFreshness
): T | null {
  const extra = table.extra ?? {};
  const shown = typeof extra.version === 'number' ? extra.version : null;
  if (fresh.version !== null && shown !== null && fresh.version < shown) {
    return null;
  }
  const changed =
    fresh.version !== shown ||
    fresh.last_write !== (extra.last_write ?? null) ||
    fresh.row_estimate !== table.row_estimate;
  if (!changed) {
    return null;
  }
  return {
    ...table,
    row_estimate: fresh.row_estimate,
    extra: {
      ...extra,
      version: fresh.version,
      versions: fresh.versions ?? extra.versions,
      last_write: fresh.last_write,
      last_writer: fresh.last_writer,
      last_operation: fresh.last_operation
    }
  };
}
