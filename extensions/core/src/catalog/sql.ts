/**
 * SQL text for catalog tables: identifiers quoted only when they must be, and
 * the notebook cell that reads a table through its connection's alias.
 *
 * The kernel registers every SQL connection as a jupysql alias named like the
 * connection (`workbench_kernels.registry`), and lake datasets are views named
 * `layer.dataset`, which is how the catalog stores them (schema = layer). So
 * `%%sql <connection>` and `<schema>.<table>` reach any table of the catalog.
 */

/**
 * Words PostgreSQL reserves (or allows only as function or type names) and
 * DuckDB's own; a name equal to one of them must be quoted.
 */
const RESERVED = new Set([
  'all',
  'analyse',
  'analyze',
  'and',
  'any',
  'anti',
  'array',
  'as',
  'asc',
  'asof',
  'asymmetric',
  'authorization',
  'binary',
  'both',
  'case',
  'cast',
  'check',
  'collate',
  'collation',
  'column',
  'concurrently',
  'constraint',
  'create',
  'cross',
  'current_catalog',
  'current_date',
  'current_role',
  'current_schema',
  'current_time',
  'current_timestamp',
  'current_user',
  'default',
  'deferrable',
  'desc',
  'describe',
  'distinct',
  'do',
  'else',
  'end',
  'except',
  'false',
  'fetch',
  'for',
  'foreign',
  'freeze',
  'from',
  'full',
  'glob',
  'grant',
  'group',
  'having',
  'ilike',
  'in',
  'initially',
  'inner',
  'intersect',
  'into',
  'is',
  'isnull',
  'join',
  'lateral',
  'leading',
  'left',
  'like',
  'limit',
  'localtime',
  'localtimestamp',
  'natural',
  'not',
  'notnull',
  'null',
  'offset',
  'on',
  'only',
  'or',
  'order',
  'outer',
  'overlaps',
  'pivot',
  'pivot_longer',
  'pivot_wider',
  'placing',
  'positional',
  'primary',
  'qualify',
  'references',
  'returning',
  'right',
  'select',
  'semi',
  'session_user',
  'show',
  'similar',
  'some',
  'summarize',
  'symmetric',
  'table',
  'tablesample',
  'then',
  'to',
  'trailing',
  'true',
  'union',
  'unique',
  'unpivot',
  'user',
  'using',
  'variadic',
  'verbose',
  'when',
  'where',
  'window',
  'with'
]);

/**
 * Names that need no quotes: lower case (PostgreSQL folds unquoted names to
 * lower case, so any capital would be lost), starting with a letter or `_`.
 */
const PLAIN = /^[a-z_][a-z0-9_$]*$/;

/**
 * Whether an identifier must be double-quoted to be read as written.
 */
export function needsQuotes(identifier: string): boolean {
  return !PLAIN.test(identifier) || RESERVED.has(identifier);
}

/**
 * An identifier as SQL: as is when that is safe, else in double quotes with
 * embedded double quotes doubled.
 */
export function quoteIdentifier(identifier: string): string {
  if (!needsQuotes(identifier)) {
    return identifier;
  }
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * `schema.table`, each part quoted when needed; the table alone when the
 * schema is empty.
 */
export function qualifiedName(schema: string | null, table: string): string {
  const name = quoteIdentifier(table);
  return schema ? `${quoteIdentifier(schema)}.${name}` : name;
}

/**
 * What the query of a table needs to know about it.
 */
export interface IQueryTarget {
  /**
   * Connection name, which is also the kernel's jupysql alias.
   */
  connection: string;

  /**
   * Schema (a lake layer for lake tables).
   */
  schema: string | null;

  /**
   * Table, view or dataset name.
   */
  name: string;

  /**
   * Odoo model of the table (`res.partner`), when known.
   */
  odoo_model?: string | null;
}

/**
 * Default number of rows the inserted query reads.
 */
export const DEFAULT_QUERY_LIMIT = 100;

/**
 * The notebook cell that reads the first rows of a table.
 *
 * @param target The table.
 * @param connectionKind Kind of its connection; an `odoo` connection is Odoo's
 *   external API, not SQL, so its tables are read with `%odoo search_read`
 *   (`-c` names the connection: there may be several Odoo connections).
 * @param limit How many rows to read.
 */
export function buildQueryCell(
  target: IQueryTarget,
  connectionKind: string | null = null,
  limit: number = DEFAULT_QUERY_LIMIT
): string {
  const rows = Math.max(1, Math.floor(limit));
  if (connectionKind === 'odoo') {
    const model = target.odoo_model || target.name.replace(/_/g, '.');
    return `%odoo search_read ${model} --limit ${rows} -c ${target.connection}`;
  }
  return (
    `%%sql ${target.connection}\n` +
    `SELECT * FROM ${qualifiedName(target.schema, target.name)} LIMIT ${rows}`
  );
}
