/**
 * Shapes of the operations endpoints, mirroring the server's pydantic models
 * (`workbench_server.operations`, `workbench_server.alerts.service`,
 * `workbench_server.sla.risk`).
 */
import { IHealthReport } from '../tokens';

/**
 * Runs that ended, by outcome, with their durations' percentiles (seconds).
 */
export interface ICounts {
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /**
   * succeeded / (succeeded + failed); null when neither happened.
   */
  success_rate: number | null;
  p50_s: number | null;
  p95_s: number | null;
  max_s: number | null;
}

/**
 * One bar of the trend: the runs that ended in one hour or day.
 */
export interface IBucket extends ICounts {
  start: string;
}

/**
 * A pipeline's SLA as its current version declares it.
 */
export interface ISla {
  finish_by: string | null;
  max_duration: string | null;
  timezone: string;
}

/**
 * One pipeline over the window, with its state now.
 */
export interface IPipelineOps extends ICounts {
  pipeline: string;
  /**
   * Runs queued or running now.
   */
  active: number;
  last_status: string | null;
  last_finished_at: string | null;
  sla: ISla | null;
  /**
   * Runs that missed the SLA deadline in the window.
   */
  sla_misses: number;
  /**
   * Median duration per bucket (null: no run ended there).
   */
  trend_p50_s: (number | null)[];
}

/**
 * The run figures of a window (`operations.runs.RunFigures`).
 */
export interface IRunFigures {
  window: string;
  bucket: 'hour' | 'day';
  start: string;
  totals: ICounts;
  active: number;
  sla_misses: number;
  trend: IBucket[];
  pipelines: IPipelineOps[];
}

/**
 * The task queue's figures for one kind of task.
 */
export interface IQueueType {
  type: string;
  backlog: number;
  oldest_s: number;
  pollers: number;
}

/**
 * The workers' Temporal task queue.
 */
export interface IQueue {
  task_queue: string;
  types: IQueueType[];
  /**
   * Why there are no figures, when there are none.
   */
  detail: string | null;
}

/**
 * Body of `GET /workbench/api/operations/summary`.
 */
export interface IOperationsSummary {
  user: string;
  /**
   * Whether this user may acknowledge alerts and make silences.
   */
  admin: boolean;
  generated_at: string;
  runs: IRunFigures;
  queue: IQueue;
  workers: string[];
  health: IHealthReport;
}

/**
 * One entry of an alert's history.
 */
export interface IAlertEvent {
  event: string;
  channel: string | null;
  action: string | null;
  status: string | null;
  detail: string | null;
  actor: string | null;
  at: string;
}

/**
 * An alert of the built-in engine (`alerts.service.AlertOut`).
 */
export interface IAlert {
  id: number;
  dedup_key: string;
  rule: string;
  severity: string;
  labels: { [name: string]: string };
  summary: string;
  status: 'firing' | 'resolved' | string;
  started_at: string;
  resolved_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  history: IAlertEvent[];
}

/**
 * A silence (`alerts.service.SilenceOut`).
 */
export interface ISilence {
  id: number;
  rule: string | null;
  labels: { [name: string]: string };
  ends_at: string;
  comment: string;
  created_by: string;
  created_at: string;
  active: boolean;
}

/**
 * Body of `POST /workbench/api/alerts/silences`.
 */
export interface ISilenceRequest {
  rule?: string | null;
  labels?: { [name: string]: string };
  minutes: number;
  comment?: string;
}

/**
 * A pipeline whose SLA an upstream pipeline's trouble puts at risk
 * (`sla.risk.SlaRiskOut`).
 */
export interface ISlaRisk {
  pipeline: string;
  /**
   * Null when the caller may not see the upstream pipeline.
   */
  upstream: string | null;
  reason: string;
  since: string;
  deadline: string | null;
}

/**
 * A dataset's freshness SLA and where it stands (`sla.freshness.DatasetSlaOut`).
 */
export interface IDatasetSla {
  /**
   * `namespace.name`, e.g. `lake.gold.trial_balance`.
   */
  dataset: string;
  /**
   * The pipeline that declares it.
   */
  pipeline: string;
  /**
   * The SLA in words, e.g. `no older than 26h`.
   */
  rule: string;
  max_age_seconds: number | null;
  updated_by: string | null;
  timezone: string | null;
  status: 'ok' | 'at_risk' | 'missed';
  last_write: string | null;
  age_seconds: number | null;
  /**
   * The deadline ahead (ok, at risk) or the one missed.
   */
  due: string | null;
  misses: number;
  /**
   * At risk: `failed` or `late`; missed: `stale` or `never written`.
   */
  reason: string | null;
  /**
   * At risk: the pipeline in trouble (null when the caller may not see it).
   */
  upstream: string | null;
  since: string | null;
}
