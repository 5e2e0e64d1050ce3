/**
 * Shapes of the connections REST API, mirroring the server's pydantic models
 * (`workbench_server.connections.service`, `workbench_server.connections.probes`).
 */

/**
 * What the server sends in place of a stored secret (`secrets.MASK`). The
 * secret itself never leaves the server.
 */
export const SECRET_MASK = '***set***';

/**
 * Kinds of connection the server knows (`connections.kinds.KINDS`).
 */
export type ConnectionKind =
  | 'postgres'
  | 'odoo'
  | 'duckdb'
  | 'lake'
  | 'sqlalchemy'
  | 'ocr'
  | 'superset'
  | 'embedding';

/**
 * A connection as users see it (`ConnectionOut`): secrets appear only as
 * `***set***` (stored) or null (not set).
 */
export interface IConnection {
  name: string;
  kind: string;
  description: string;
  owner: string;
  shared_groups: string[];
  builtin: boolean;
  settings: { [field: string]: unknown };
  created_at: string;
  updated_at: string;
  /**
   * Whether the caller may edit, share or remove it: false for a connection
   * shared with them by someone else, or a built-in one unless they are an
   * admin. Every user may still use and test it.
   */
  may_change: boolean;
}

/**
 * Body of `POST connections` (`ConnectionCreate`).
 */
export interface IConnectionCreate {
  name: string;
  description: string;
  shared_groups: string[];
  settings: { kind: string; [field: string]: unknown };
}

/**
 * Body of `PATCH connections/{name}` (`ConnectionUpdate`): omitted fields and
 * secrets keep their value; a secret set to null is removed.
 */
export interface IConnectionPatch {
  description?: string;
  shared_groups?: string[];
  settings?: { [field: string]: unknown };
}

/**
 * Outcome of `POST connections/{name}/test` (`TestResult`).
 */
export interface ITestResult {
  ok: boolean;
  connection: string;
  server_version: string | null;
  latency_ms: number | null;
  /**
   * Why it failed, e.g. `authentication_failed` (failures only).
   */
  reason: string | null;
  /**
   * One sentence for people, with the driver's own words on failure.
   */
  message: string;
}

/**
 * The calls the connections dialog makes (the REST client, or a fake in tests).
 */
export interface IConnectionsAPI {
  list(): Promise<IConnection[]>;
  create(body: IConnectionCreate): Promise<IConnection>;
  update(name: string, patch: IConnectionPatch): Promise<IConnection>;
  remove(name: string): Promise<void>;
  test(name: string): Promise<ITestResult>;
}
