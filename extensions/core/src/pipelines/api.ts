/**
 * The pipeline and run endpoints of the workbench REST API.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI, withQuery } from '../request';
import {
  IApproval,
  IDeployment,
  IPipeline,
  IRun,
  IRunRequest,
  ISchedule,
  IValidation,
  ScheduleAction
} from './tokens';

/**
 * Typed calls to `/workbench/api/pipelines/...` and `/workbench/api/runs/...`.
 */
export class PipelinesAPI {
  /**
   * Create the client for a Jupyter server.
   */
  constructor(serverSettings: ServerConnection.ISettings) {
    this._settings = serverSettings;
  }

  /**
   * Every deployed pipeline, by name.
   */
  pipelines(): Promise<IPipeline[]> {
    return requestAPI<IPipeline[]>('pipelines', this._settings);
  }

  /**
   * One deployed pipeline.
   */
  pipeline(name: string): Promise<IPipeline> {
    return requestAPI<IPipeline>(
      `pipelines/${encodeURIComponent(name)}`,
      this._settings
    );
  }

  /**
   * The latest runs, newest first (of one pipeline, or of all).
   */
  runs(pipeline: string | null, limit = 50): Promise<IRun[]> {
    return requestAPI<IRun[]>(
      withQuery('runs', { pipeline, limit }),
      this._settings
    );
  }

  /**
   * One run with its attempts.
   */
  run(id: string): Promise<IRun> {
    return requestAPI<IRun>(`runs/${id}`, this._settings);
  }

  /**
   * Start a run now.
   */
  start(name: string, request: IRunRequest): Promise<IRun> {
    return requestAPI<IRun>(
      `pipelines/${encodeURIComponent(name)}/runs`,
      this._settings,
      { method: 'POST', body: JSON.stringify(request) }
    );
  }

  /**
   * Ask a run to stop.
   */
  cancel(id: string): Promise<IRun> {
    return requestAPI<IRun>(`runs/${id}/cancel`, this._settings, {
      method: 'POST'
    });
  }

  /**
   * Start a new run re-running the failed steps of a run and their downstream;
   * with `latest`, of the pipeline's current version instead of the run's own
   * (the steps changed since re-run too).
   */
  repair(id: string, latest = false): Promise<IRun> {
    return requestAPI<IRun>(`runs/${id}/repair`, this._settings, {
      method: 'POST',
      body: JSON.stringify({ latest })
    });
  }

  /**
   * Approve or reject a run's waiting approval step; a rejection needs a
   * reason. Resolves with the decided approval.
   */
  decide(
    id: string,
    step: string,
    approve: boolean,
    reason: string
  ): Promise<IApproval> {
    const action = approve ? 'approve' : 'reject';
    return requestAPI<IApproval>(
      `runs/${id}/approvals/${encodeURIComponent(step)}/${action}`,
      this._settings,
      { method: 'POST', body: JSON.stringify({ reason, via: 'panel' }) }
    );
  }

  /**
   * The executed notebook of an attempt, as nbformat JSON.
   */
  notebook(
    id: string,
    step: string,
    attempt: number
  ): Promise<{ [key: string]: unknown }> {
    return requestAPI<{ [key: string]: unknown }>(
      `runs/${id}/steps/${encodeURIComponent(step)}/attempts/${attempt}/notebook`,
      this._settings
    );
  }

  /**
   * The state and next runs of a pipeline's schedule (404 when it has none).
   */
  schedule(name: string): Promise<ISchedule> {
    return requestAPI<ISchedule>(
      `pipelines/${encodeURIComponent(name)}/schedule`,
      this._settings
    );
  }

  /**
   * Pause, resume or trigger a pipeline's schedule; resolves with its new state.
   */
  controlSchedule(name: string, action: ScheduleAction): Promise<ISchedule> {
    return requestAPI<ISchedule>(
      `pipelines/${encodeURIComponent(name)}/schedule/${action}`,
      this._settings,
      { method: 'POST' }
    );
  }

  /**
   * Check a pipeline's YAML text; `path` (relative to the server's root) lets
   * the server also check that its notebooks exist.
   */
  validate(text: string, path?: string): Promise<IValidation> {
    return requestAPI<IValidation>('pipelines/validate', this._settings, {
      method: 'POST',
      body: JSON.stringify(path ? { text, path } : { text })
    });
  }

  /**
   * Check a pipeline file as saved (`path` relative to the server's root),
   * its notebooks included.
   */
  validateFile(path: string): Promise<IValidation> {
    return requestAPI<IValidation>('pipelines/validate', this._settings, {
      method: 'POST',
      body: JSON.stringify({ path })
    });
  }

  /**
   * Deploy a pipeline file as saved (`path` relative to the server's root): a
   * new version, or the current one when nothing changed. An invalid file is
   * refused with HTTP 400 and every problem in the body's `errors`.
   */
  deploy(path: string): Promise<IDeployment> {
    return requestAPI<IDeployment>('pipelines/deploy', this._settings, {
      method: 'POST',
      body: JSON.stringify({ path })
    });
  }

  /**
   * The JSON Schema of pipeline files, as this server's spec defines it
   * (its step kinds included).
   */
  schema(): Promise<{ [key: string]: unknown }> {
    return requestAPI<{ [key: string]: unknown }>(
      'pipelines/schema.json',
      this._settings
    );
  }

  private _settings: ServerConnection.ISettings;
}
