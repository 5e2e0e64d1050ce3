/**
 * The browse tree of the catalog (sources → schemas → tables) without the
 * DOM: what is loaded, what is expanded, and the flat list of rows the
 * virtual list shows.
 *
 * Nothing is loaded before it is expanded: a source's schemas when the source
 * opens, a schema's tables (a page at a time, as the list scrolls to them)
 * when the schema opens.
 */
import { describeError } from '../request';
import { ISource, ITable, ITablesPage } from './tokens';

/**
 * Asks `GET catalog/tables` for one page.
 */
export type TablesFetcher = (request: {
  connection: string;
  schema?: string;
  offset: number;
  limit: number;
}) => Promise<ITablesPage>;

/**
 * A schema of a source and how many tables it has.
 */
export interface ISchemaInfo {
  name: string;
  tables: number;
}

/**
 * Tables fetched per request while browsing (the server allows 500).
 */
export const TREE_PAGE_SIZE = 200;

/**
 * The schemas of a connection, with their table counts.
 *
 * The API lists tables ordered by schema and name but has no list of
 * schemas. Reading every table to find them would cost a request per 500
 * tables; instead, each page is split into runs of one schema, and past the
 * last run (which may go on beyond the page) the next request starts right
 * after it, using the count of that schema alone (its `total`, asked with
 * `limit=1`: the server refuses `limit=0`). That is about two requests per
 * schema whatever the number of tables.
 */
export async function discoverSchemas(
  connection: string,
  fetchTables: TablesFetcher,
  pageSize: number = TREE_PAGE_SIZE
): Promise<ISchemaInfo[]> {
  const schemas: ISchemaInfo[] = [];
  let offset = 0;
  let total = Infinity;
  // Bounded: a catalog rescanned meanwhile must not keep this going.
  for (let round = 0; round < 10000 && offset < total; round++) {
    const page = await fetchTables({ connection, offset, limit: pageSize });
    total = page.total;
    if (page.items.length === 0) {
      break;
    }
    const runs: ISchemaInfo[] = [];
    for (const table of page.items) {
      const run = runs[runs.length - 1];
      if (run && run.name === table.schema) {
        run.tables++;
      } else {
        runs.push({ name: table.schema, tables: 1 });
      }
    }
    const last = runs.pop()!;
    schemas.push(...runs);
    const lastStart = offset + page.items.length - last.tables;
    if (offset + page.items.length < total) {
      const counted = await fetchTables({
        connection,
        schema: last.name,
        offset: 0,
        limit: 1
      });
      last.tables = Math.max(counted.total, last.tables);
    }
    schemas.push(last);
    offset = lastStart + last.tables;
  }
  return schemas;
}

/**
 * Key of a source node.
 */
export function sourceKey(connection: string): string {
  return `source:${connection}`;
}

/**
 * Key of a schema node.
 */
export function schemaKey(connection: string, schema: string): string {
  return `schema:${connection}\u0000${schema}`;
}

/**
 * Loading state of something fetched.
 */
export type LoadStatus = 'loading' | 'ready' | 'error';

/**
 * The schemas of one source as far as known.
 */
export interface ISchemasEntry {
  status: LoadStatus;
  schemas: ISchemaInfo[];
  error: string | null;
}

/**
 * The tables of one schema as far as loaded.
 */
export interface ITablesEntry {
  status: LoadStatus;
  items: ITable[];
  total: number;
  error: string | null;
}

/**
 * Everything the tree knows.
 */
export interface ITreeState {
  sources: ISource[] | null;
  sourcesStatus: LoadStatus;
  sourcesError: string | null;
  expanded: ReadonlySet<string>;
  schemas: { readonly [connection: string]: ISchemasEntry };
  tables: { readonly [schemaKey: string]: ITablesEntry };
}

/**
 * The tree before the sources are loaded.
 */
export const EMPTY_TREE: ITreeState = {
  sources: null,
  sourcesStatus: 'loading',
  sourcesError: null,
  expanded: new Set(),
  schemas: {},
  tables: {}
};

/**
 * One row of the flattened tree.
 */
export type TreeRow =
  | {
      kind: 'source';
      key: string;
      depth: 0;
      source: ISource;
      expanded: boolean;
    }
  | {
      kind: 'schema';
      key: string;
      depth: 1;
      connection: string;
      schema: ISchemaInfo;
      expanded: boolean;
    }
  | { kind: 'table'; key: string; depth: 2; table: ITable }
  | {
      kind: 'status';
      key: string;
      depth: number;
      status: 'loading' | 'error' | 'empty' | 'more';
      /**
       * Why loading failed (error rows only).
       */
      error?: string;
      /**
       * Tables loaded so far and in all (more rows only).
       */
      loaded?: number;
      total?: number;
      /**
       * Key of the node this row belongs to (to retry or load more).
       */
      owner: string;
    };

/**
 * The rows to show, depth first, in the order the server sent them.
 */
export function flattenTree(state: ITreeState): TreeRow[] {
  const rows: TreeRow[] = [];
  if (state.sourcesStatus === 'error' || state.sources === null) {
    rows.push({
      kind: 'status',
      key: 'sources:status',
      depth: 0,
      status: state.sourcesStatus === 'error' ? 'error' : 'loading',
      error:
        state.sourcesStatus === 'error'
          ? (state.sourcesError ?? undefined)
          : undefined,
      owner: 'sources'
    });
  }
  if (state.sources === null) {
    return rows;
  }
  if (state.sources.length === 0) {
    rows.push({
      kind: 'status',
      key: 'sources:empty',
      depth: 0,
      status: 'empty',
      owner: 'sources'
    });
  }
  for (const source of state.sources) {
    const key = sourceKey(source.connection);
    const expanded = state.expanded.has(key);
    rows.push({ kind: 'source', key, depth: 0, source, expanded });
    if (expanded) {
      flattenSource(state, source, rows);
    }
  }
  return rows;
}

function flattenSource(
  state: ITreeState,
  source: ISource,
  rows: TreeRow[]
): void {
  const owner = sourceKey(source.connection);
  const entry = state.schemas[source.connection];
  const status = statusRow(owner, 1, entry);
  if (status) {
    rows.push(status);
  }
  for (const schema of entry?.schemas ?? []) {
    const key = schemaKey(source.connection, schema.name);
    const expanded = state.expanded.has(key);
    rows.push({
      kind: 'schema',
      key,
      depth: 1,
      connection: source.connection,
      schema,
      expanded
    });
    if (!expanded) {
      continue;
    }
    const tables = state.tables[key];
    for (const table of tables?.items ?? []) {
      rows.push({ kind: 'table', key: `table:${table.id}`, depth: 2, table });
    }
    const tableStatus = statusRow(key, 2, tables);
    if (tableStatus) {
      rows.push(tableStatus);
    } else if (tables && tables.items.length < tables.total) {
      rows.push({
        kind: 'status',
        key: `${key}:more`,
        depth: 2,
        status: 'more',
        loaded: tables.items.length,
        total: tables.total,
        owner: key
      });
    }
  }
}

function statusRow(
  owner: string,
  depth: number,
  entry: { status: LoadStatus; error: string | null } | undefined
): TreeRow | null {
  if (!entry || entry.status === 'loading') {
    return {
      kind: 'status',
      key: `${owner}:loading`,
      depth,
      status: 'loading',
      owner
    };
  }
  if (entry.status === 'error') {
    return {
      kind: 'status',
      key: `${owner}:error`,
      depth,
      status: 'error',
      error: entry.error ?? undefined,
      owner
    };
  }
  const empty =
    'schemas' in entry
      ? (entry as ISchemasEntry).schemas.length === 0
      : (entry as ITablesEntry).items.length === 0;
  if (empty) {
    return {
      kind: 'status',
      key: `${owner}:empty`,
      depth,
      status: 'empty',
      owner
    };
  }
  return null;
}

/**
 * The tree's state and its loading; call `setSources`/`toggle`/`loadMore`
 * and re-render on `onChange`.
 */
export class TreeModel {
  /**
   * Create a tree model over the given fetchers.
   */
  constructor(options: TreeModel.IOptions) {
    this._fetchSources = options.fetchSources;
    this._fetchTables = options.fetchTables;
    this._onChange = options.onChange;
    this._onError = options.onError ?? (() => undefined);
    this._pageSize = options.pageSize ?? TREE_PAGE_SIZE;
  }

  /**
   * The current state.
   */
  get state(): ITreeState {
    return this._state;
  }

  /**
   * (Re)load the sources; what was expanded stays expanded and is reloaded.
   */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    this._set({ ...this._state, sourcesStatus: 'loading', sourcesError: null });
    let sources: ISource[];
    try {
      sources = await this._fetchSources();
    } catch (error) {
      if (generation === this._generation) {
        this._set({
          ...this._state,
          sourcesStatus: 'error',
          sourcesError: describeError(error)
        });
        this._onError(error, 'sources');
      }
      return;
    }
    if (generation !== this._generation) {
      return;
    }
    this._set({
      ...this._state,
      sources,
      sourcesStatus: 'ready',
      schemas: {},
      tables: {}
    });
    const expanded = [...this._state.expanded];
    await Promise.all(
      sources
        .filter(s => expanded.includes(sourceKey(s.connection)))
        .map(s => this._loadSchemas(s.connection, generation))
    );
  }

  /**
   * Expand or collapse a node; expanding loads what it has not loaded yet.
   */
  toggle(key: string, expand?: boolean): void {
    const isOpen = this._state.expanded.has(key);
    const open = expand ?? !isOpen;
    if (open === isOpen) {
      return;
    }
    const expanded = new Set(this._state.expanded);
    if (open) {
      expanded.add(key);
    } else {
      expanded.delete(key);
    }
    this._set({ ...this._state, expanded });
    if (!open) {
      return;
    }
    const source = this._state.sources?.find(
      s => sourceKey(s.connection) === key
    );
    if (source) {
      const entry = this._state.schemas[source.connection];
      if (!entry || entry.status === 'error') {
        void this._loadSchemas(source.connection, this._generation);
      }
      return;
    }
    const entry = this._state.tables[key];
    if (!entry || entry.status === 'error') {
      void this.loadMore(key);
    }
  }

  /**
   * Retry whatever failed for this node (`sources`, a source or a schema key).
   */
  retry(owner: string): void {
    if (owner === 'sources') {
      void this.reload();
      return;
    }
    const source = this._state.sources?.find(
      s => sourceKey(s.connection) === owner
    );
    if (source) {
      void this._loadSchemas(source.connection, this._generation);
    } else {
      void this.loadMore(owner);
    }
  }

  /**
   * Load the next page of a schema's tables (no-op while one is loading).
   */
  async loadMore(key: string): Promise<void> {
    const [connection, schema] = this._parseSchemaKey(key);
    const entry = this._state.tables[key];
    if (
      connection === null ||
      this._loading.has(key) ||
      (entry && entry.status === 'ready' && entry.items.length >= entry.total)
    ) {
      return;
    }
    const generation = this._generation;
    const items = entry?.status === 'error' ? [] : (entry?.items ?? []);
    this._loading.add(key);
    this._setTables(key, {
      status: items.length ? 'ready' : 'loading',
      items,
      total: entry?.total ?? 0,
      error: null
    });
    try {
      const page = await this._fetchTables({
        connection,
        schema,
        offset: items.length,
        limit: this._pageSize
      });
      if (generation === this._generation) {
        this._setTables(key, {
          status: 'ready',
          items: [...items, ...page.items],
          total: page.total,
          error: null
        });
      }
    } catch (error) {
      if (generation === this._generation) {
        this._setTables(key, {
          status: 'error',
          items: [],
          total: 0,
          error: describeError(error)
        });
        this._onError(error, `${connection}.${schema}`);
      }
    } finally {
      this._loading.delete(key);
    }
  }

  private async _loadSchemas(
    connection: string,
    generation: number
  ): Promise<void> {
    this._setSchemas(connection, {
      status: 'loading',
      schemas: [],
      error: null
    });
    let schemas: ISchemaInfo[];
    try {
      schemas = await discoverSchemas(
        connection,
        this._fetchTables,
        this._pageSize
      );
    } catch (error) {
      if (generation === this._generation) {
        this._setSchemas(connection, {
          status: 'error',
          schemas: [],
          error: describeError(error)
        });
        this._onError(error, connection);
      }
      return;
    }
    if (generation !== this._generation) {
      return;
    }
    this._setSchemas(connection, { status: 'ready', schemas, error: null });
    // A source with a single schema opens it: one click fewer.
    if (schemas.length === 1) {
      this.toggle(schemaKey(connection, schemas[0].name), true);
    } else {
      for (const schema of schemas) {
        const key = schemaKey(connection, schema.name);
        if (this._state.expanded.has(key)) {
          void this.loadMore(key);
        }
      }
    }
  }

  private _parseSchemaKey(key: string): [string | null, string] {
    const prefix = 'schema:';
    const separator = key.indexOf('\u0000');
    if (!key.startsWith(prefix) || separator < 0) {
      return [null, ''];
    }
    return [key.slice(prefix.length, separator), key.slice(separator + 1)];
  }

  private _setSchemas(connection: string, entry: ISchemasEntry): void {
    this._set({
      ...this._state,
      schemas: { ...this._state.schemas, [connection]: entry }
    });
  }

  private _setTables(key: string, entry: ITablesEntry): void {
    this._set({
      ...this._state,
      tables: { ...this._state.tables, [key]: entry }
    });
  }

  private _set(state: ITreeState): void {
    this._state = state;
    this._onChange(state);
  }

  private _fetchSources: () => Promise<ISource[]>;
  private _fetchTables: TablesFetcher;
  private _generation = 0;
  private _loading = new Set<string>();
  private _onChange: (state: ITreeState) => void;
  private _onError: (error: unknown, what: string) => void;
  private _pageSize: number;
  private _state: ITreeState = EMPTY_TREE;
}

/**
 * A namespace for TreeModel statics.
 */
export namespace TreeModel {
  /**
   * Options to create a tree model.
   */
  export interface IOptions {
    fetchSources: () => Promise<ISource[]>;
    fetchTables: TablesFetcher;
    onChange: (state: ITreeState) => void;
    /**
     * Called when loading something fails; `what` names it.
     */
    onError?: (error: unknown, what: string) => void;
    pageSize?: number;
  }
}
