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
 * A deployed pipeline (`PipelineOut`): `depends_on` gives the DAG's edges,
 * `parameters` the declared parameters the run dialog starts from (both optional
 * for servers older than this extension).
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
 * A pipeline run (`RunOut`); `attempts` is empty in lists.
 */
export interface IRun {
  id: string;
  pipeline: string;
  version: number;
  status: string;
  trigger: string;
  parameters: { [name: string]: unknown };
  logical_date: string;
  repair_of: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  sla_deadline?: string | null;
  sla_missed_at?: string | null;
  attempts: IAttempt[];
}

/**
 * Body of `POST pipelines/{name}/runs`.
 */
export interface IRunRequest {
  parameters: { [name: string]: unknown };
  logical_date?: string;
}
