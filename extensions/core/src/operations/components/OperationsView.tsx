import { InputDialog, Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { PolledWidget } from '../../components/PolledWidget';
import { describeError } from '../../request';
import { OperationsAPI } from '../api';
import { bucketLabel, WINDOWS } from '../format';
import {
  IAlert,
  IDatasetSla,
  IOperationsSummary,
  ISilence,
  ISlaRisk
} from '../tokens';
import { AlertsList } from './AlertsList';
import { DatasetFreshness } from './DatasetFreshness';
import { HealthPanel } from './HealthPanel';
import { PipelineTable, riskText } from './PipelineTable';
import { FigureTiles, TrendChart } from './RunFigures';

/**
 * How often the view is polled while visible, in milliseconds.
 */
export const OPERATIONS_POLL_INTERVAL = 10000;

/**
 * Silence lengths offered: minutes and how they read.
 */
function silenceChoices(trans: TranslationBundle): [number, string][] {
  return [
    [60, trans.__('1 hour')],
    [240, trans.__('4 hours')],
    [1440, trans.__('1 day')],
    [10080, trans.__('1 week')]
  ];
}

type Section = 'summary' | 'alerts' | 'risks';

type Settled<T> = { value: T } | { error: unknown };

/**
 * A request's answer or its error, without throwing.
 */
async function settle<T>(request: Promise<T>): Promise<Settled<T>> {
  try {
    return { value: await request };
  } catch (error) {
    return { error };
  }
}

/**
 * The Operations view: success rate, durations and their trend, SLA state and
 * predicted misses, firing alerts (acknowledge and silence for admins), the
 * task queue, workers and the health of each part.
 */
export class OperationsView extends PolledWidget {
  constructor(options: OperationsView.IOptions) {
    super({
      interval: OPERATIONS_POLL_INTERVAL,
      name: '@workbench/core:operations'
    });
    this._api = options.api;
    this._trans = options.trans;
    this._onOpenPipeline = options.onOpenPipeline;
    this.addClass('jp-WorkbenchOperations');
  }

  /**
   * The window shown: `1d`, `7d` or `30d`.
   */
  get window(): string {
    return this._window;
  }

  protected async load(): Promise<void> {
    // Each part on its own: alerts still show when the run figures fail.
    const [summary, alerts, silences, risks, datasets] = await Promise.all([
      settle(this._api.summary(this._window)),
      settle(this._api.firingAlerts()),
      settle(this._api.silences()),
      settle(this._api.atRisk()),
      settle(this._api.datasetSlas())
    ]);
    const trans = this._trans;
    const failed = (what: string, result: Settled<unknown>) =>
      'error' in result
        ? `${what}: ${describeError(result.error, trans)}`
        : null;
    this._errors = {
      summary: failed(trans.__('Run figures and health not loaded'), summary),
      alerts:
        failed(trans.__('Alerts not loaded'), alerts) ??
        failed(trans.__('Silences not loaded'), silences),
      risks:
        failed(trans.__('SLA risks not loaded'), risks) ??
        failed(trans.__('Dataset freshness not loaded'), datasets)
    };
    if ('value' in summary) {
      this._summary = summary.value;
    }
    if ('value' in alerts) {
      this._alerts = alerts.value;
    }
    if ('value' in silences) {
      this._silences = silences.value;
    }
    if ('value' in risks) {
      this._risks = risks.value;
    }
    if ('value' in datasets) {
      this._datasets = datasets.value;
    }
    this._loaded = true;
    this.update();
    if ('error' in summary) {
      throw summary.error; // back off while the server is in trouble
    }
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const summary = this._summary;
    return (
      <div className="jp-WorkbenchOperations-body">
        <div className="jp-WorkbenchOperations-header">
          <h1>{trans.__('Operations')}</h1>
          <div
            className="jp-WorkbenchOperations-windows"
            role="group"
            aria-label={trans.__('Window')}
          >
            {WINDOWS.map(w => (
              <button
                key={w}
                className={`jp-mod-styled ${w === this._window ? 'jp-mod-accept' : ''}`}
                aria-pressed={w === this._window}
                data-window={w}
                onClick={() => this._setWindow(w)}
              >
                {
                  {
                    '1d': trans.__('24 hours'),
                    '7d': trans.__('7 days'),
                    '30d': trans.__('30 days')
                  }[w]
                }
              </button>
            ))}
          </div>
          {summary && (
            <div className="jp-WorkbenchOperations-since jp-WorkbenchOperations-dim">
              {trans.__(
                'since %1 · as %2',
                bucketLabel(
                  summary.runs.start,
                  summary.runs.bucket === 'hour' ? 'hour' : 'day'
                ),
                summary.user
              )}
            </div>
          )}
        </div>
        {!this._loaded && (
          <div className="jp-WorkbenchOperations-empty">
            {trans.__('Loading…')}
          </div>
        )}
        {this._renderError('summary')}
        {summary && (
          <>
            <FigureTiles
              runs={summary.runs}
              atRisk={
                this._risks.length +
                this._datasets.filter(d => d.status === 'at_risk').length
              }
              trans={trans}
            />
            <section className="jp-WorkbenchOperations-section">
              <h2>{trans.__('Runs and p95 duration')}</h2>
              <TrendChart runs={summary.runs} trans={trans} />
            </section>
          </>
        )}
        <section
          className="jp-WorkbenchOperations-section"
          data-section="alerts"
        >
          <h2>
            {trans.__('Active alerts')}{' '}
            <span className="jp-WorkbenchOperations-count">
              {this._alerts.length}
            </span>
          </h2>
          {this._renderError('alerts')}
          {summary && !summary.admin && this._alerts.length > 0 && (
            <div className="jp-WorkbenchOperations-note" role="note">
              {trans.__('Only an admin may acknowledge or silence alerts.')}
            </div>
          )}
          {this._loaded && (
            <AlertsList
              alerts={this._alerts}
              silences={this._silences}
              admin={summary?.admin ?? false}
              busy={this._busy}
              trans={trans}
              actions={{
                acknowledge: alert => void this._acknowledge(alert),
                silence: alert => void this._silence(alert),
                endSilence: silence => void this._endSilence(silence)
              }}
            />
          )}
        </section>
        <section className="jp-WorkbenchOperations-section" data-section="sla">
          <h2>{trans.__('SLAs: predicted misses')}</h2>
          {this._renderError('risks')}
          {this._loaded && this._risks.length === 0 && !this._errors.risks && (
            <div className="jp-WorkbenchOperations-empty" data-risks="none">
              {trans.__(
                'No pipeline SLA is at risk: no pipeline upstream of one is late or failed.'
              )}
            </div>
          )}
          {this._risks.length > 0 && (
            <ul className="jp-WorkbenchOperations-risks">
              {this._risks.map(risk => (
                <li
                  key={`${risk.pipeline}:${risk.upstream}`}
                  className="jp-WorkbenchOperations-risk"
                  data-pipeline={risk.pipeline}
                >
                  <strong>{risk.pipeline}</strong> {riskText(risk, trans)}
                </li>
              ))}
            </ul>
          )}
          <DatasetFreshness datasets={this._datasets} trans={trans} />
        </section>
        {summary && (
          <>
            <section
              className="jp-WorkbenchOperations-section"
              data-section="pipelines"
            >
              <h2>{trans.__('Pipelines')}</h2>
              <PipelineTable
                pipelines={summary.runs.pipelines}
                risks={this._risks}
                trans={trans}
                onOpen={name => void this._onOpenPipeline(name)}
              />
            </section>
            <section
              className="jp-WorkbenchOperations-section"
              data-section="health"
            >
              <h2>{trans.__('Workers and services')}</h2>
              <HealthPanel summary={summary} trans={trans} />
            </section>
          </>
        )}
      </div>
    );
  }

  private _renderError(section: Section): JSX.Element | null {
    const message = this._errors[section];
    return message ? (
      <div
        className="jp-WorkbenchOperations-error"
        role="alert"
        data-error={section}
      >
        {message}
      </div>
    ) : null;
  }

  private _setWindow(window: string): void {
    if (window !== this._window) {
      this._window = window;
      this.update();
      void this.refresh();
    }
  }

  /**
   * Run an admin's action, then load again; a refusal or failure is said in a
   * notification, in the server's words.
   */
  private async _act(
    what: string,
    action: () => Promise<unknown>
  ): Promise<void> {
    this._busy = true;
    this.update();
    try {
      await action();
    } catch (error) {
      Notification.error(`${what}: ${describeError(error, this._trans)}`, {
        autoClose: 10000
      });
    } finally {
      this._busy = false;
      await this.refresh();
    }
  }

  private async _acknowledge(alert: IAlert): Promise<void> {
    await this._act(this._trans.__('Acknowledging %1 failed', alert.rule), () =>
      this._api.acknowledge(alert.id)
    );
  }

  private async _silence(alert: IAlert): Promise<void> {
    const trans = this._trans;
    const choices = silenceChoices(trans);
    const labels = choices.map(([, label]) => label);
    const picked = await InputDialog.getItem({
      title: trans.__('Silence %1', alert.rule),
      label: trans.__(
        'No notice is sent for %1 alerts with %2 until the silence ends.',
        alert.rule,
        Object.entries(alert.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') || trans.__('any labels')
      ),
      items: labels,
      current: 0,
      okLabel: trans.__('Silence')
    });
    if (!picked.button.accept || picked.value === null) {
      return;
    }
    const minutes = choices[labels.indexOf(picked.value)]?.[0] ?? 60;
    await this._act(trans.__('Silencing %1 failed', alert.rule), () =>
      this._api.silence({
        rule: alert.rule,
        labels: alert.labels,
        minutes,
        comment: trans.__('silenced from the Operations view')
      })
    );
  }

  private async _endSilence(silence: ISilence): Promise<void> {
    await this._act(
      this._trans.__('Ending silence %1 failed', silence.id),
      () => this._api.endSilence(silence.id)
    );
  }

  private _api: OperationsAPI;
  private _trans: TranslationBundle;
  private _onOpenPipeline: (name: string) => void | Promise<void>;
  private _window = '7d';
  private _loaded = false;
  private _busy = false;
  private _summary: IOperationsSummary | null = null;
  private _alerts: IAlert[] = [];
  private _silences: ISilence[] = [];
  private _risks: ISlaRisk[] = [];
  private _datasets: IDatasetSla[] = [];
  private _errors: { [section in Section]: string | null } = {
    summary: null,
    alerts: null,
    risks: null
  };
}

/**
 * A namespace for OperationsView statics.
 */
export namespace OperationsView {
  /**
   * Options of the Operations view.
   */
  export interface IOptions {
    api: OperationsAPI;
    trans: TranslationBundle;
    /**
     * Open a pipeline's own view.
     */
    onOpenPipeline: (name: string) => void | Promise<void>;
  }
}
