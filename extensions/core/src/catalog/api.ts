/**
 * The catalog and lineage endpoints of the workbench REST API.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI, withQuery } from '../request';
import { FacetFilters, searchParams } from './facets';
import {
  IPublishRequest,
  IPublishResult,
  IUnpublishRequest,
  IUnpublishResult
} from './publish';
import {
  IColumnPatch,
  ILineageGraph,
  IPreview,
  IScan,
  ISearchPage,
  ISource,
  ITableDetail,
  ITableFreshness,
  ITablePatch,
  ITablesPage,
  ITableVersion,
  LineageDirection
} from './tokens';

/**
 * Typed calls to `/workbench/api/catalog/...` and `/workbench/api/lineage`.
 */
export class CatalogAPI {
  /**
   * Create the client for a Jupyter server.
   */
  constructor(serverSettings: ServerConnection.ISettings) {
    this._settings = serverSettings;
  }

  /**
   * Every connection the user may use, with its catalog size.
   */
  sources(): Promise<ISource[]> {
    return requestAPI<ISource[]>('catalog/sources', this._settings);
  }

  /**
   * Start a scan of a source on the worker; resolves with its workflow id.
   */
  async startScan(name: string): Promise<string> {
    const started = await requestAPI<{ workflow_id: string }>(
      withQuery(`catalog/sources/${encodeURIComponent(name)}/scans`, {
        wait: false
      }),
      this._settings,
      { method: 'POST' }
    );
    return started.workflow_id;
  }

  /**
   * The latest scans of a source, newest first.
   */
  scans(name: string): Promise<IScan[]> {
    return requestAPI<IScan[]>(
      `catalog/sources/${encodeURIComponent(name)}/scans`,
      this._settings
    );
  }

  /**
   * One page of tables, ordered by connection, schema and name.
   */
  tables(request: {
    connection?: string;
    schema?: string;
    offset?: number;
    limit?: number;
  }): Promise<ITablesPage> {
    return requestAPI<ITablesPage>(
      withQuery('catalog/tables', request),
      this._settings
    );
  }

  /**
   * A table with its columns and schema history.
   */
  table(id: number): Promise<ITableDetail> {
    return requestAPI<ITableDetail>(`catalog/tables/${id}`, this._settings);
  }

  /**
   * A table's version and last write as the catalog knows them now (cheap:
   * polled while the table is open).
   */
  freshness(id: number): Promise<ITableFreshness> {
    return requestAPI<ITableFreshness>(
      `catalog/tables/${id}/freshness`,
      this._settings
    );
  }

  /**
   * Change a table's description, tags, steward or certification.
   */
  editTable(id: number, patch: ITablePatch): Promise<ITableDetail> {
    return requestAPI<ITableDetail>(`catalog/tables/${id}`, this._settings, {
      method: 'PATCH',
      body: JSON.stringify(patch)
    });
  }

  /**
   * Change a column's description or tags.
   */
  editColumn(
    id: number,
    column: string,
    patch: IColumnPatch
  ): Promise<ITableDetail> {
    return requestAPI<ITableDetail>(
      `catalog/tables/${id}/columns/${encodeURIComponent(column)}`,
      this._settings,
      { method: 'PATCH', body: JSON.stringify(patch) }
    );
  }

  /**
   * The first rows of a table (bounded and masked by the server); of a lake
   * table as of `version` when given.
   */
  preview(
    id: number,
    limit: number = 100,
    version: number | null = null
  ): Promise<IPreview> {
    return requestAPI<IPreview>(
      withQuery(`catalog/tables/${id}/preview`, { limit, version }),
      this._settings
    );
  }

  /**
   * A lake table's versions, newest first; `before` pages back from it.
   */
  versions(
    id: number,
    limit: number = 50,
    before: number | null = null
  ): Promise<ITableVersion[]> {
    return requestAPI<ITableVersion[]>(
      withQuery(`catalog/tables/${id}/versions`, { limit, before }),
      this._settings
    );
  }

  /**
   * One page of search results with facet counts.
   */
  search(
    query: string,
    filters: FacetFilters,
    offset: number,
    limit: number,
    signal?: AbortSignal
  ): Promise<ISearchPage> {
    return requestAPI<ISearchPage>(
      withQuery('catalog/search', searchParams(query, filters, offset, limit)),
      this._settings,
      // Not 'no-store' (Jupyter's default): for that, Jupyter appends a
      // timestamp parameter to the URL as cache buster, which the search
      // endpoint would take for an unknown facet and refuse. 'no-cache'
      // still asks the server every time.
      { signal, cache: 'no-cache' }
    );
  }

  /**
   * The lineage graph of a dataset, up- or downstream.
   */
  lineage(
    namespace: string,
    name: string,
    direction: LineageDirection,
    depth: number = 3
  ): Promise<ILineageGraph> {
    return requestAPI<ILineageGraph>(
      withQuery('lineage', { namespace, name, direction, depth }),
      this._settings
    );
  }

  /**
   * Publish a lake table to a Superset connection as a dataset.
   */
  publish(request: IPublishRequest): Promise<IPublishResult> {
    return requestAPI<IPublishResult>('superset/publish', this._settings, {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }

  /**
   * Take a published lake table out of Superset (409 while charts use it,
   * unless `force`).
   */
  unpublish(request: IUnpublishRequest): Promise<IUnpublishResult> {
    return requestAPI<IUnpublishResult>('superset/unpublish', this._settings, {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }

  private _settings: ServerConnection.ISettings;
}
