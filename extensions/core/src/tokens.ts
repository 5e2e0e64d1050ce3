/**
 * Shapes of the workbench REST API, mirroring the server's pydantic models
 * (`workbench_server.health`, `workbench_server.handlers.base`).
 */

/**
 * Translation domain of the workbench extensions.
 */
export const TRANSLATION_DOMAIN = 'workbench';

/**
 * State of one part of the workbench (`health.Status`).
 */
export type CheckStatus = 'ok' | 'starting' | 'down';

/**
 * Overall state: ok when every part is ok, starting when the others are ok
 * and a part is still starting (the worker before its first poll), down when
 * none is ok, else degraded.
 */
export type HealthStatus = 'ok' | 'starting' | 'degraded' | 'down';

/**
 * The state of one part (`health.Check`).
 */
export interface IHealthCheck {
  /**
   * Whether the part answered.
   */
  status: CheckStatus;

  /**
   * What the part said, or why it is down.
   */
  detail: string;

  /**
   * How long the check took, in milliseconds.
   */
  latency_ms: number;
}

/**
 * Body of `GET /workbench/api/health` (`health.HealthReport`), sent with
 * HTTP 200 when every part is ok and 503 otherwise.
 */
export interface IHealthReport {
  /**
   * Overall state.
   */
  status: HealthStatus;

  /**
   * Version of the workbench server.
   */
  version: string;

  /**
   * One entry per part, e.g. `metadata_db`, `temporal`, `worker`.
   */
  checks: { [part: string]: IHealthCheck };
}

/**
 * Body of every error answer of the workbench API.
 */
export interface IErrorBody {
  /**
   * What went wrong and what to do, in one sentence.
   */
  message: string;

  /**
   * The HTTP reason phrase.
   */
  reason?: string | null;
}
