/**
 * Publishing a lake table to Superset from the catalog (`POST
 * /workbench/api/superset/publish`, see docs/superset.md): which tables can
 * be published, to which connections, and what to tell the user afterwards.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { ISource, ITable } from './tokens';

/**
 * The body of a publish request.
 */
export interface IPublishRequest {
  table: string;
  to: string;
  lake?: string | null;
  include_pii?: boolean;
  overwrite?: boolean;
}

/**
 * What the server answers for a publish.
 */
export interface IPublishResult {
  table: string;
  superset: string;
  dataset_id: number;
  dataset_url: string;
  created: boolean;
  rows: number;
  version: number | null;
  columns: string[];
  excluded_pii: string[];
  kept_edits: string[];
}

/**
 * The body of an unpublish request (`POST /workbench/api/superset/unpublish`).
 */
export interface IUnpublishRequest {
  table: string;
  to: string;
  lake?: string | null;
  force?: boolean;
}

/**
 * What the server answers for an unpublish.
 */
export interface IUnpublishResult {
  table: string;
  superset: string;
  dataset_id: number | null;
  removed_from_file: boolean;
  broken_charts: string[];
}

const LAYERS = ['bronze', 'silver', 'gold'];

/**
 * The request publishing `table` to `to`, or null when `table` is not a lake
 * table (only tables of the lake and of lake connections can be published).
 */
export function publishRequest(
  table: ITable,
  sources: ISource[],
  to: string
): IPublishRequest | null {
  const source = sources.find(s => s.connection === table.connection);
  if (!source || source.kind !== 'lake' || !LAYERS.includes(table.schema)) {
    return null;
  }
  return {
    table: `${table.schema}.${table.name}`,
    to,
    lake: table.connection === 'lake' ? null : table.connection
  };
}

/**
 * The superset connections the user may publish to, by name.
 */
export function supersetTargets(sources: ISource[]): string[] {
  return sources
    .filter(s => s.kind === 'superset')
    .map(s => s.connection)
    .sort();
}

/**
 * One sentence on what was taken out of Superset.
 */
export function unpublishSummary(
  result: IUnpublishResult,
  trans: TranslationBundle
): string {
  const parts = [
    result.dataset_id !== null
      ? trans.__(
          '%1 removed from %2 (dataset %3 deleted).',
          result.table,
          result.superset,
          result.dataset_id
        )
      : trans.__('%1 removed from %2.', result.table, result.superset)
  ];
  if (result.broken_charts.length) {
    parts.push(
      trans.__(
        'Charts that used it now fail: %1.',
        result.broken_charts.join(', ')
      )
    );
  }
  return parts.join(' ');
}

/**
 * One sentence on what was published.
 */
export function publishSummary(
  result: IPublishResult,
  trans: TranslationBundle
): string {
  const parts = [
    result.created
      ? trans.__(
          '%1 published to %2 as a new dataset (%3 rows).',
          result.table,
          result.superset,
          result.rows
        )
      : trans.__(
          '%1 published again to %2 (%3 rows).',
          result.table,
          result.superset,
          result.rows
        )
  ];
  if (result.excluded_pii.length) {
    parts.push(trans.__('Left out (pii): %1.', result.excluded_pii.join(', ')));
  }
  if (result.kept_edits.length) {
    parts.push(
      trans.__('Kept as edited in Superset: %1.', result.kept_edits.join(', '))
    );
  }
  return parts.join(' ');
}
