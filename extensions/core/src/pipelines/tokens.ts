/**
 * Shapes of the pipeline endpoints of the workbench REST API; they mirror the
 * pydantic models of `workbench_server.pipelines` (`PipelineOut`, `RunOut`,
 * `AttemptOut`).
 */

/**
 * A declared run parameter (`ParameterSpec`), when the server sends them.
 */
export interface IParameterSpec {
  type: string;
  default?: unknown;
  description?: string;
  required?: boolean;
}

/**
 * Who besides the owner and admins may see or operate a pipeline, by hub
 * group (`AccessSpec`).
 */
export interface IPipelineAccess {
  /**
   * Groups that see the pipeline, its runs and their artifacts.
   */
  viewers: string[];
  /**
   * Groups that may also start, cancel and repair runs and control the
   * schedule.
   */
  operators: string[];
}

/**
 * A deployed pipeline (`PipelineOut`): `depends_on` gives the DAG's edges,
 * `parameters` the declared parameters the run dialog starts from. These and
 * the rights are optional for servers older than this extension: without
 * `may_operate` the buttons show and the server decides.
 */
export interface IPipeline {
  name: string;
  owner: string;
  current_version: number;
  description: string;
  steps: string[];
  schedule: { [key: string]: unknown } | null;
  updated_at: string;
  depends_on?: { [step: string]: string[] };
  parameters?: { [name: string]: IParameterSpec };
  access?: IPipelineAccess;
  /**
   * Whether the caller may start, cancel and repair runs and pause, resume or
   * trigger the schedule (owner, admin, or a member of an operators group).
   */
  may_operate?: boolean;
  /**
   * Whether the caller may deploy new versions (owner or admin).
   */
  may_change?: boolean;
}

/**
 * One attempt of one step (`AttemptOut`).
 */
export interface IAttempt {
  step_id: string;
  attempt: number;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  output_notebook: string | null;
  log_file?: string | null;
  error: string | null;
  failing_cell: number | null;
  traceback: string | null;
}

/**
 * What started a run (`RunOut.trigger`).
 */
export type RunTrigger = 'manual' | 'schedule' | 'repair';

/**
 * A pipeline run (`RunOut`); `attempts` is empty in lists.
 */
export interface IRun {
  id: string;
  pipeline: string;
  version: number;
  status: string;
  /**
   * A `RunTrigger`; typed as text so that a newer server's kinds still show.
   */
  trigger: string;
  parameters: { [name: string]: unknown };
  logical_date: string;
  /**
   * For a repair run, the id of the run it repairs.
   */
  repair_of: string | null;
  /**
   * Who started it: a user, `scheduler` for a schedule firing, or for a
   * repair run who repaired it (absent from older servers).
   */
  requested_by?: string;
  /**
   * Who asked it to stop, if anyone did.
   */
  cancelled_by?: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  sla_deadline?: string | null;
  sla_missed_at?: string | null;
  attempts: IAttempt[];
  /**
   * Its approval gates (absent from lists and from older servers).
   */
  approvals?: IApproval[];
  /**
   * Its webhook events and every attempt to deliver them (absent from lists
   * and from older servers).
   */
  deliveries?: IWebhookDelivery[];
}

/**
 * One POST of a webhook delivery and the answer (`AttemptOut` of
 * `workbench_server.webhooks.events`).
 */
export interface IWebhookAttempt {
  attempt: number;
  at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
}

/**
 * One event of a run for one webhook target (`DeliveryOut`).
 */
export interface IWebhookDelivery {
  id: number;
  /**
   * `run.started`, `run.succeeded`, `run.failed`, `step.failed`, ...
   */
  event: string;
  event_id: string;
  url: string;
  target_id: number | null;
  /**
   * `queued`, `sending`, `retrying`, `delivered` or `failed`.
   */
  status: string;
  attempts: number;
  created_at: string;
  delivered_at: string | null;
  last_error: string | null;
  history: IWebhookAttempt[];
}

/**
 * An approval step of a run (`ApprovalOut`): asked of whom, decided how.
 */
export interface IApproval {
  run_id: string;
  pipeline: string;
  step_id: string;
  /**
   * `pending`, `approved`, `rejected` or `cancelled`.
   */
  status: string;
  message: string;
  approvers: { users: string[]; groups: string[] };
  requested_at: string;
  expires_at: string | null;
  escalated_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  /**
   * `rest`, `panel`, `cli`, `mcp`, `link` or `timeout`.
   */
  via: string | null;
  /**
   * Whether this user may approve or reject it now.
   */
  may_decide: boolean;
}

/**
 * Body of `POST pipelines/{name}/runs`.
 */
export interface IRunRequest {
  parameters: { [name: string]: unknown };
  logical_date?: string;
}

/**
 * A pipeline's Temporal Schedule as `GET pipelines/{name}/schedule` describes
 * it: paused or not, why, and when it runs next (up to five times, ISO with
 * offset). `may_change` says whether this user may pause, resume or trigger
 * it (absent from older servers: then the buttons show and the server decides).
 */
export interface ISchedule {
  paused: boolean;
  note: string | null;
  next_runs: string[];
  recent_runs: string[];
  may_change?: boolean;
}

/**
 * What `POST pipelines/{name}/schedule/{action}` can do.
 */
export type ScheduleAction = 'pause' | 'resume' | 'trigger';

/**
 * One problem in a pipeline YAML text (`SpecError` of
 * `workbench_pipelines.validate`); `line` and `column` count from 1.
 */
export interface ISpecError {
  file: string;
  line: number | null;
  column: number | null;
  path: string;
  message: string;
}

/**
 * Answer of `POST pipelines/validate`.
 */
export interface IValidation {
  valid: boolean;
  errors: ISpecError[];
}

/**
 * Answer of `POST pipelines/deploy` (`Deployment`): the version now current,
 * and whether this deploy created it (unchanged content creates none).
 */
export interface IDeployment {
  name: string;
  version: number;
  content_hash: string;
  new_version: boolean;
}
