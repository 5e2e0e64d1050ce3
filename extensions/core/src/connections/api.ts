/**
 * The connections endpoints of the workbench REST API.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from '../request';
import {
  IConnection,
  IConnectionCreate,
  IConnectionPatch,
  IConnectionsAPI,
  ITestResult
} from './tokens';

/**
 * Typed calls to `/workbench/api/connections/...`.
 */
export class ConnectionsAPI implements IConnectionsAPI {
  /**
   * Create the client for a Jupyter server.
   */
  constructor(serverSettings: ServerConnection.ISettings) {
    this._settings = serverSettings;
  }

  /**
   * Every connection the user may use, by name.
   */
  list(): Promise<IConnection[]> {
    return requestAPI<IConnection[]>('connections', this._settings);
  }

  /**
   * Add a connection; its secrets are encrypted by the server.
   */
  create(body: IConnectionCreate): Promise<IConnection> {
    return requestAPI<IConnection>('connections', this._settings, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  /**
   * Change a connection; what the patch leaves out keeps its value.
   */
  update(name: string, patch: IConnectionPatch): Promise<IConnection> {
    return requestAPI<IConnection>(
      `connections/${encodeURIComponent(name)}`,
      this._settings,
      { method: 'PATCH', body: JSON.stringify(patch) }
    );
  }

  /**
   * Remove a connection.
   */
  async remove(name: string): Promise<void> {
    await requestAPI<unknown>(
      `connections/${encodeURIComponent(name)}`,
      this._settings,
      { method: 'DELETE' }
    );
  }

  /**
   * Connect once with the saved settings and say how it went.
   */
  test(name: string): Promise<ITestResult> {
    return requestAPI<ITestResult>(
      `connections/${encodeURIComponent(name)}/test`,
      this._settings,
      { method: 'POST' }
    );
  }

  private _settings: ServerConnection.ISettings;
}
