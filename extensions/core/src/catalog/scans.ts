/**
 * Catalog scans started from the browser: one per source at a time, run on
 * the worker (`POST sources/{name}/scans?wait=false`), followed through the
 * source's scan list until it has finished.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from '../request';
import { IScan } from './tokens';

/**
 * How often a running scan is asked about, in ms.
 */
export const SCAN_POLL_INTERVAL = 1000;

/**
 * How long a scan is followed before the browser stops waiting, in ms (it
 * goes on on the worker; the next reload shows its outcome).
 */
export const SCAN_PATIENCE = 15 * 60 * 1000;

/**
 * The part of the REST client scans need.
 */
export interface IScanAPI {
  /**
   * Start a scan on the worker; resolves with its workflow id.
   */
  startScan(name: string): Promise<string>;
  /**
   * The latest scans of a source, newest first.
   */
  scans(name: string): Promise<IScan[]>;
}

/**
 * A scan as the panel shows it: starting (asked, not yet recorded),
 * running, or finished with its record, or failed to be followed.
 */
export interface IScanProgress {
  connection: string;
  status: 'starting' | 'running' | 'succeeded' | 'failed' | 'interrupted';
  /**
   * When the browser asked for it (epoch ms).
   */
  since: number;
  scan: IScan | null;
  /**
   * Why it failed, in one sentence.
   */
  error: string | null;
}

/**
 * The scans started from this browser, by connection.
 */
export class ScanModel {
  /**
   * Create the model; `wait` and `now` are the clock, for tests.
   */
  constructor(
    api: IScanAPI,
    options: {
      wait?: (ms: number) => Promise<void>;
      now?: () => number;
    } = {}
  ) {
    this._api = api;
    this._wait =
      options.wait ?? (ms => new Promise(resolve => setTimeout(resolve, ms)));
    this._now = options.now ?? Date.now;
  }

  /**
   * Emits the connection whose scan moved on.
   */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /**
   * The scan of `connection` started here, as last seen, or null.
   */
  progress(connection: string): IScanProgress | null {
    return this._progress.get(connection) ?? null;
  }

  /**
   * Whether a scan of `connection` started here is still going.
   */
  isScanning(connection: string): boolean {
    const status = this._progress.get(connection)?.status;
    return status === 'starting' || status === 'running';
  }

  /**
   * Scan `connection` on the worker and follow it until it has finished;
   * resolves with its outcome (a scan already going is followed, not
   * started twice). Never rejects: a failure is the outcome's `error`.
   */
  scan(connection: string): Promise<IScanProgress> {
    let pending = this._pending.get(connection);
    if (!pending) {
      pending = this._run(connection).finally(() =>
        this._pending.delete(connection)
      );
      this._pending.set(connection, pending);
    }
    return pending;
  }

  private async _run(connection: string): Promise<IScanProgress> {
    const since = this._now();
    this._set({
      connection,
      status: 'starting',
      since,
      scan: null,
      error: null
    });
    try {
      // The newest scan before this one: the first newer one is this scan.
      const before = (await this._api.scans(connection))[0]?.id ?? 0;
      await this._api.startScan(connection);
      while (this._now() - since < SCAN_PATIENCE) {
        const scan = (await this._api.scans(connection)).find(
          s => s.id > before
        );
        if (scan && scan.status !== 'running') {
          return this._set({
            connection,
            status: scan.status === 'succeeded' ? 'succeeded' : 'failed',
            since,
            scan,
            error:
              scan.status === 'succeeded'
                ? null
                : (scan.error ?? `the scan ended ${scan.status}`)
          });
        }
        if (scan) {
          this._set({
            connection,
            status: 'running',
            since,
            scan,
            error: null
          });
        }
        await this._wait(SCAN_POLL_INTERVAL);
      }
      return this._set({
        connection,
        status: 'failed',
        since,
        scan: null,
        error: 'no answer from the worker in time; the scan may still finish'
      });
    } catch (error) {
      return this._set({
        connection,
        status: 'failed',
        since,
        scan: null,
        error: describeError(error)
      });
    }
  }

  private _set(progress: IScanProgress): IScanProgress {
    this._progress.set(progress.connection, progress);
    this._changed.emit(progress.connection);
    return progress;
  }

  private _api: IScanAPI;
  private _changed = new Signal<this, string>(this);
  private _now: () => number;
  private _pending = new Map<string, Promise<IScanProgress>>();
  private _progress = new Map<string, IScanProgress>();
  private _wait: (ms: number) => Promise<void>;
}
