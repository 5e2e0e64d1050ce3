import { ServerConnection } from '@jupyterlab/services';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  classifyAnswer,
  HealthOutcome,
  IHealthSummary,
  INotice,
  noticeFor,
  summarizeHealth
} from './health';
import { APIError, requestAPI } from './request';
import { IHealthReport, TRANSLATION_DOMAIN } from './tokens';

/**
 * How often the health endpoint is polled, in milliseconds.
 */
export const HEALTH_POLL_INTERVAL = 15 * 1000;

/**
 * Ask the server for its health and classify the answer; never rejects.
 */
export async function fetchHealth(
  serverSettings: ServerConnection.ISettings,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): Promise<HealthOutcome> {
  try {
    const body = await requestAPI<IHealthReport>('health', serverSettings);
    return classifyAnswer(200, body, trans);
  } catch (error) {
    if (error instanceof APIError) {
      return classifyAnswer(error.status, error.body, trans);
    }
    if (error instanceof ServerConnection.NetworkError) {
      return {
        kind: 'unreachable',
        reason: trans.__(
          'no answer from the Jupyter server; check that it is running and reload the page'
        )
      };
    }
    return {
      kind: 'error',
      status: 0,
      message: trans.__(
        'Checking the workbench health failed: %1',
        String(error)
      )
    };
  }
}

/**
 * The workbench health as last polled; shared by the status item, the dialog
 * and the notifications.
 */
export class HealthModel implements IDisposable {
  /**
   * Create a health model; polling starts at once.
   */
  constructor(options: HealthModel.IOptions) {
    this._serverSettings = options.serverSettings;
    this._trans = (options.translator ?? nullTranslator).load(
      TRANSLATION_DOMAIN
    );
    this._summary = summarizeHealth({ kind: 'pending' }, this._trans);
    this._poll = new Poll({
      auto: true,
      factory: () => this._check(),
      frequency: {
        interval: options.interval ?? HEALTH_POLL_INTERVAL,
        backoff: false
      },
      name: '@workbench/core:health',
      // No requests from a browser tab nobody looks at.
      standby: 'when-hidden'
    });
  }

  /**
   * The current summary.
   */
  get summary(): IHealthSummary {
    return this._summary;
  }

  /**
   * Emitted after every check with the previous and new summary, and the
   * notification the change deserves, if any.
   */
  get changed(): ISignal<this, HealthModel.IChange> {
    return this._changed;
  }

  /**
   * Whether the model is disposed.
   */
  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Check now rather than at the next tick; resolves with the new summary.
   */
  async refresh(): Promise<IHealthSummary> {
    await this._poll.refresh();
    await this._poll.tick;
    return this._summary;
  }

  /**
   * Stop polling.
   */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _check(): Promise<void> {
    const outcome = await fetchHealth(this._serverSettings, this._trans);
    const previous = this._summary;
    const current = summarizeHealth(outcome, this._trans);
    this._summary = current;
    this._changed.emit({
      previous,
      current,
      notice: noticeFor(previous, current, this._trans)
    });
  }

  private _changed = new Signal<this, HealthModel.IChange>(this);
  private _poll: Poll;
  private _serverSettings: ServerConnection.ISettings;
  private _summary: IHealthSummary;
  private _trans: TranslationBundle;
}

/**
 * A namespace for HealthModel statics.
 */
export namespace HealthModel {
  /**
   * Options to create a health model.
   */
  export interface IOptions {
    /**
     * Settings of the Jupyter server to poll.
     */
    serverSettings: ServerConnection.ISettings;

    /**
     * Poll interval in milliseconds; defaults to HEALTH_POLL_INTERVAL.
     */
    interval?: number;

    /**
     * Translator for the texts shown to people.
     */
    translator?: ITranslator;
  }

  /**
   * A change of health summary.
   */
  export interface IChange {
    /**
     * The summary before the check.
     */
    previous: IHealthSummary;

    /**
     * The summary after the check.
     */
    current: IHealthSummary;

    /**
     * What to tell people about the change; null when it is no news.
     */
    notice: INotice | null;
  }
}
