/**
 * The endpoints the Operations view reads and acts on.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI, withQuery } from '../request';
import {
  IAlert,
  IDatasetSla,
  IOperationsSummary,
  ISilence,
  ISilenceRequest,
  ISlaRisk
} from './tokens';

/**
 * Typed calls to `/workbench/api/operations`, `/alerts` and `/sla`.
 */
export class OperationsAPI {
  constructor(serverSettings: ServerConnection.ISettings) {
    this._settings = serverSettings;
  }

  /**
   * Run figures of a window (`1d`, `7d`, `30d`), queue, workers and health.
   */
  summary(window: string): Promise<IOperationsSummary> {
    return requestAPI<IOperationsSummary>(
      withQuery('operations/summary', { window }),
      this._settings
    );
  }

  /**
   * The alerts firing now, each with its history.
   */
  firingAlerts(): Promise<IAlert[]> {
    return requestAPI<IAlert[]>(
      withQuery('alerts', { status: 'firing' }),
      this._settings
    );
  }

  /**
   * The silences in force.
   */
  silences(): Promise<ISilence[]> {
    return requestAPI<ISilence[]>('alerts/silences', this._settings);
  }

  /**
   * The pipelines whose SLA is at risk now.
   */
  atRisk(): Promise<ISlaRisk[]> {
    return requestAPI<ISlaRisk[]>('sla/at-risk', this._settings);
  }

  /**
   * The freshness SLAs of datasets, with their state now.
   */
  datasetSlas(): Promise<IDatasetSla[]> {
    return requestAPI<IDatasetSla[]>('sla/datasets', this._settings);
  }

  /**
   * Acknowledge a firing alert (admins only).
   */
  acknowledge(id: number): Promise<IAlert> {
    return requestAPI<IAlert>(`alerts/${id}/acknowledge`, this._settings, {
      method: 'POST',
      body: '{}'
    });
  }

  /**
   * Silence the alerts a rule and labels match (admins only).
   */
  silence(request: ISilenceRequest): Promise<ISilence> {
    return requestAPI<ISilence>('alerts/silences', this._settings, {
      method: 'POST',
      body: JSON.stringify(request)
    });
  }

  /**
   * End a silence now (admins only).
   */
  endSilence(id: number): Promise<ISilence> {
    return requestAPI<ISilence>(`alerts/silences/${id}`, this._settings, {
      method: 'DELETE'
    });
  }

  private _settings: ServerConnection.ISettings;
}
