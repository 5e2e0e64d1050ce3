/**
 * The pipeline and run endpoints of the workbench REST API.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI, withQuery } from '../request';
import { IPipeline, IRun, IRunRequest } from './tokens';

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
   * Start a new run re-running the failed steps of a run and their downstream.
   */
  repair(id: string): Promise<IRun> {
    return requestAPI<IRun>(`runs/${id}/repair`, this._settings, {
      method: 'POST'
    });
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

  private _settings: ServerConnection.ISettings;
}
