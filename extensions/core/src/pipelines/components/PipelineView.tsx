import {
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { describeError } from '../../request';
import { PipelinesAPI } from '../api';
import { buildDag, IDagLayout, isActive, layoutDag, stateClass } from '../dag';
import {
  describeSchedule,
  readableError,
  scheduleZone,
  shortRunId,
  stateLabel
} from '../format';
import { PolledWidget } from '../../components/PolledWidget';
import { mayOperate, viewOnlyNote } from '../rights';
import { runCancellation, runOriginText } from '../runOrigin';
import { formatNextRun, ScheduleModel } from '../schedules';
import {
  IApproval,
  IAttempt,
  IPipeline,
  IRun,
  ScheduleAction
} from '../tokens';
import { ApprovalBanner } from './ApprovalBanner';
import { RunDeliveries } from './RunDeliveries';
import { DagGraph } from './DagGraph';
import { PipelinesPanel } from './PipelinesPanel';
import { RunHistory } from './RunHistory';
import { StepDetails } from './StepDetails';

/**
 * How often an open pipeline view is polled while visible, in milliseconds.
 */
export const RUN_POLL_INTERVAL = 2000;

/**
 * Runs shown in the history table.
 */
const HISTORY_LIMIT = 25;

/**
 * What a pipeline view asks its plugin to do.
 */
export interface IPipelineActions {
  /**
   * Ask for parameters and start a run; resolves with it, or null.
   */
  runNow: (pipeline: IPipeline, lastRun: IRun | null) => Promise<IRun | null>;
  /**
   * Open an attempt's executed notebook.
   */
  openNotebook: (run: IRun, attempt: IAttempt) => Promise<void>;
  error: PipelinesPanel.ErrorHandler;
}

/**
 * A deployed pipeline: its DAG coloured by the selected run, the run history,
 * run/cancel/repair, and the details of a step's attempt.
 */
export class PipelineView extends PolledWidget {
  /**
   * Create the view of one pipeline; it loads when first shown.
   */
  constructor(options: PipelineView.IOptions) {
    super({
      interval: RUN_POLL_INTERVAL,
      name: `@workbench/core:pipeline:${options.name}`
    });
    this._api = options.api;
    this._schedules = options.schedules;
    this._trans = options.trans;
    this._actions = options.actions;
    this.pipelineName = options.name;
    this.addClass('jp-WorkbenchPipeline');
    this._schedules.changed.connect(this._onScheduleChanged, this);
  }

  /**
   * Name of the pipeline shown.
   */
  readonly pipelineName: string;

  /**
   * The pipeline, once loaded.
   */
  get pipeline(): IPipeline | null {
    return this._pipeline;
  }

  /**
   * The newest run, if any.
   */
  get latestRun(): IRun | null {
    return this._runs[0] ?? null;
  }

  /**
   * Called when the pipeline is loaded (to title the tab).
   */
  onPipelineLoaded: ((pipeline: IPipeline) => void) | null = null;

  /**
   * Ask for parameters and start a run, then show it; a viewer is told why
   * not instead of being asked for parameters the server would refuse.
   */
  async runNow(): Promise<void> {
    const pipeline =
      this._pipeline ?? (await this._api.pipeline(this.pipelineName));
    const note = viewOnlyNote(pipeline, this._trans);
    if (note !== null) {
      Notification.warning(`${pipeline.name}: ${note}`, { autoClose: 8000 });
      return;
    }
    const run = await this._actions.runNow(pipeline, this.latestRun);
    if (run) {
      this._follow(run);
    }
  }

  dispose(): void {
    this._schedules.changed.disconnect(this._onScheduleChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const pipeline = this._pipeline;
    const run = this._selectedRun();
    return (
      <div className="jp-WorkbenchPipeline-body">
        <div className="jp-WorkbenchPipeline-header">
          <div className="jp-WorkbenchPipeline-heading">
            <h1 className="jp-WorkbenchPipeline-name">{this.pipelineName}</h1>
            {pipeline && (
              <div className="jp-WorkbenchPipeline-meta">
                {[
                  pipeline.description,
                  trans.__('version %1', pipeline.current_version),
                  trans.__('owner %1', pipeline.owner),
                  pipeline.schedule ? '' : trans.__('no schedule')
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </div>
            )}
          </div>
          {this._renderActions(pipeline, run)}
        </div>
        {this._error && (
          <div className="jp-WorkbenchPipeline-error" role="alert">
            {this._error}
          </div>
        )}
        {pipeline && this._renderSchedule(pipeline)}
        {run && (
          <div className="jp-WorkbenchPipeline-runSummary" data-run={run.id}>
            {trans.__('Run %1', shortRunId(run.id))}{' '}
            <span
              className={`jp-WorkbenchPipeline-badge ${stateClass(run.status)}`}
            >
              {stateLabel(run.status)}
            </span>{' '}
            <span className="jp-WorkbenchPipeline-runBy">
              {[
                trans.__('started by %1', runOriginText(run, trans)),
                runCancellation(run, trans)
              ]
                .filter(Boolean)
                .join(' · ')}
            </span>
            {run.error && (
              <span className="jp-WorkbenchPipeline-runError">
                {readableError(run.error)}
              </span>
            )}
          </div>
        )}
        {run && (
          <ApprovalBanner
            trans={trans}
            approvals={run.approvals ?? []}
            onApprove={approval => void this._decide(approval, true)}
            onReject={approval => void this._decide(approval, false)}
          />
        )}
        {run && (
          <RunDeliveries trans={trans} deliveries={run.deliveries ?? []} />
        )}
        {pipeline && this._renderDag(pipeline, run)}
        {this._renderStep(run)}
        <RunHistory
          trans={trans}
          runs={this._runs}
          details={this._details}
          selected={run?.id ?? null}
          loaded={this._loaded}
          placeholder={
            mayOperate(pipeline)
              ? trans.__('No run yet: click Run now.')
              : trans.__('No run yet.')
          }
          onSelect={id => this._selectRun(id)}
        />
      </div>
    );
  }

  /**
   * Run now, Cancel run and Repair run for those who may operate the
   * pipeline; for a viewer, a note saying why there are none.
   */
  private _renderActions(
    pipeline: IPipeline | null,
    run: IRun | null
  ): JSX.Element | null {
    const trans = this._trans;
    const note = viewOnlyNote(pipeline, trans);
    if (note !== null) {
      return (
        <div className="jp-WorkbenchPipeline-viewOnly" role="note">
          {note}
        </div>
      );
    }
    if (!mayOperate(pipeline)) {
      return null; // not loaded yet
    }
    return (
      <div className="jp-WorkbenchPipeline-actions">
        <button
          className="jp-mod-styled jp-mod-accept jp-WorkbenchPipeline-runNow"
          onClick={() => void this._guard(() => this.runNow())}
        >
          {trans.__('Run now')}
        </button>
        <button
          className="jp-mod-styled jp-WorkbenchPipeline-cancel"
          disabled={!run || !isActive(run)}
          onClick={() => void this._cancel()}
        >
          {trans.__('Cancel run')}
        </button>
        <button
          className="jp-mod-styled jp-WorkbenchPipeline-repair"
          disabled={!run || !['failed', 'cancelled'].includes(run.status)}
          onClick={() => void this._repair()}
        >
          {trans.__('Repair run')}
        </button>
      </div>
    );
  }

  /**
   * The schedule's state and next run, with pause/resume and trigger for
   * those who may change it; nothing for a pipeline without a schedule.
   */
  private _renderSchedule(pipeline: IPipeline): JSX.Element | null {
    if (!pipeline.schedule) {
      return null;
    }
    const trans = this._trans;
    const state = this._schedules.state(pipeline);
    const schedule = this._schedules.get(pipeline.name);
    const error = this._schedules.error(pipeline.name);
    // The spec's `paused` is only the state at deployment: Temporal's counts.
    const cron = describeSchedule({ ...pipeline.schedule, paused: false });
    const zone = scheduleZone(pipeline.schedule);
    const next = schedule?.next_runs ?? [];
    const busy = this._scheduleBusy;
    const badge = {
      active: [trans.__('active'), 'jp-mod-succeeded'],
      paused: [trans.__('paused'), 'jp-mod-warn'],
      unknown: [trans.__('loading…'), ''],
      none: ['', '']
    }[state];
    return (
      <div className="jp-WorkbenchPipeline-schedule" data-schedule={state}>
        <span className="jp-WorkbenchPipeline-scheduleCron">
          {trans.__('Schedule %1', cron)}
        </span>
        {(schedule || !error) && (
          <span className={`jp-WorkbenchPipeline-badge ${badge[1]}`}>
            {badge[0]}
          </span>
        )}
        {state === 'active' && next.length > 0 && (
          <span
            className="jp-WorkbenchPipeline-nextRun"
            title={trans.__(
              'Next runs:\n%1',
              next.map(t => formatNextRun(t, Date.now(), zone)).join('\n')
            )}
          >
            {trans.__('next run %1', formatNextRun(next[0], Date.now(), zone))}
          </span>
        )}
        {state === 'paused' && schedule?.note && (
          <span className="jp-WorkbenchPipeline-scheduleNote">
            {schedule.note}
          </span>
        )}
        {error !== null && !schedule && (
          <span className="jp-WorkbenchPipeline-scheduleError">
            {trans.__(
              'schedule state unavailable: %1',
              describeError(error, trans)
            )}
          </span>
        )}
        {schedule && schedule.may_change !== false && (
          <span className="jp-WorkbenchPipeline-scheduleActions">
            {schedule.paused ? (
              <button
                className="jp-mod-styled jp-WorkbenchPipeline-resume"
                disabled={busy}
                title={trans.__('Let the schedule start runs again')}
                onClick={() => void this._controlSchedule('resume')}
              >
                {trans.__('Resume')}
              </button>
            ) : (
              <button
                className="jp-mod-styled jp-WorkbenchPipeline-pause"
                disabled={busy}
                title={trans.__('Stop the schedule from starting runs')}
                onClick={() => void this._controlSchedule('pause')}
              >
                {trans.__('Pause')}
              </button>
            )}
            <button
              className="jp-mod-styled jp-WorkbenchPipeline-trigger"
              disabled={busy}
              title={trans.__(
                'Start a scheduled run now, as if the schedule fired'
              )}
              onClick={() => void this._controlSchedule('trigger')}
            >
              {trans.__('Trigger now')}
            </button>
          </span>
        )}
      </div>
    );
  }

  private async _controlSchedule(action: ScheduleAction): Promise<void> {
    const pipeline = this._pipeline;
    if (!pipeline || this._scheduleBusy) {
      return;
    }
    const trans = this._trans;
    const what = {
      pause: trans.__('Pausing the schedule of %1 failed', pipeline.name),
      resume: trans.__('Resuming the schedule of %1 failed', pipeline.name),
      trigger: trans.__('Triggering the schedule of %1 failed', pipeline.name)
    }[action];
    this._scheduleBusy = true;
    this.update();
    try {
      await this._schedules.control(pipeline, action);
      if (action === 'trigger') {
        Notification.success(
          trans.__('Schedule of %1 triggered: a run starts now', pipeline.name),
          { autoClose: 4000 }
        );
        void this.poll.refresh();
      }
    } catch (error) {
      this._actions.error(what, error);
    } finally {
      this._scheduleBusy = false;
      this.update();
    }
  }

  private _onScheduleChanged(_: ScheduleModel, name: string): void {
    if (name === this.pipelineName) {
      this.update();
    }
  }

  private _renderDag(pipeline: IPipeline, run: IRun | null): JSX.Element {
    if (!this._dagLayout || this._layoutFor !== pipeline) {
      const dag = buildDag(pipeline);
      this._dagLayout = layoutDag(dag.nodes, dag.edges);
      this._layoutFor = pipeline;
    }
    return (
      <DagGraph
        layout={this._dagLayout}
        run={run}
        selected={this._step}
        label={this._trans.__('Steps of %1', pipeline.name)}
        markerId={`jp-WorkbenchPipeline-arrow-${this.pipelineName}`}
        onSelect={step => this._selectStep(step)}
      />
    );
  }

  private _renderStep(run: IRun | null): JSX.Element | null {
    return (
      <StepDetails
        trans={this._trans}
        run={run}
        step={this._step}
        onOpenNotebook={(r, attempt) =>
          void this._guard(() => this._actions.openNotebook(r, attempt))
        }
      />
    );
  }

  /**
   * The run the DAG shows: the one picked in the table, else the newest.
   */
  private _selectedRun(): IRun | null {
    const id = this._runId ?? this._runs[0]?.id ?? null;
    if (!id) {
      return null;
    }
    return this._details.get(id) ?? this._runs.find(r => r.id === id) ?? null;
  }

  private _selectRun(id: string): void {
    this._runId = id;
    this.update();
    void this.poll.refresh();
  }

  private _selectStep(step: string): void {
    this._step = this._step === step ? null : step;
    this.update();
  }

  private _follow(run: IRun): void {
    this._details.set(run.id, run);
    if (!this._runs.some(r => r.id === run.id)) {
      this._runs = [run, ...this._runs];
    }
    this._runId = run.id;
    this.update();
    void this.poll.refresh();
  }

  private async _cancel(): Promise<void> {
    const run = this._selectedRun();
    if (run) {
      await this._guard(
        async () => {
          await this._api.cancel(run.id);
          await this.refresh();
        },
        this._trans.__('Cancelling run %1 failed', shortRunId(run.id))
      );
    }
  }

  /**
   * Approve a waiting gate, or ask why and reject it (a rejection fails the
   * run with that reason).
   */
  private async _decide(approval: IApproval, approve: boolean): Promise<void> {
    const trans = this._trans;
    let reason = '';
    if (!approve) {
      const asked = await InputDialog.getText({
        title: trans.__('Reject %1', approval.step_id),
        label: trans.__('Why? The run fails with this reason.'),
        okLabel: trans.__('Reject'),
        placeholder: trans.__('e.g. totals do not tie out')
      });
      if (!asked.button.accept) {
        return;
      }
      reason = (asked.value ?? '').trim();
      if (!reason) {
        Notification.warning(
          trans.__('Say why you reject: nothing was decided.')
        );
        return;
      }
    }
    await this._guard(
      async () => {
        await this._api.decide(
          approval.run_id,
          approval.step_id,
          approve,
          reason
        );
        await this.refresh();
      },
      trans.__('Deciding %1 failed', approval.step_id)
    );
  }

  private async _repair(): Promise<void> {
    const run = this._selectedRun();
    if (run) {
      const latest = await this._repairVersion(run);
      if (latest === null) {
        return;
      }
      await this._guard(
        async () => {
          this._follow(await this._api.repair(run.id, latest));
        },
        this._trans.__('Repairing run %1 failed', shortRunId(run.id))
      );
    }
  }

  /**
   * Which version a repair runs: the run's own unless a newer one was deployed
   * since (a fixed notebook, most often), when the user is asked; true for the
   * latest, false for the run's own, null when they cancel.
   */
  private async _repairVersion(run: IRun): Promise<boolean | null> {
    const current = this._pipeline?.current_version;
    if (current === undefined || current <= run.version) {
      return false;
    }
    const trans = this._trans;
    const asked = await showDialog({
      title: trans.__('Repair run %1', shortRunId(run.id)),
      body: trans.__(
        'Run %1 ran version %2; version %3 has been deployed since. Re-run its failed steps (and the steps changed since) with version %3, or with version %2 as the run did?',
        shortRunId(run.id),
        run.version,
        current
      ),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({
          label: trans.__("Version %1 (the run's)", run.version),
          displayType: 'default',
          actions: ['own']
        }),
        Dialog.okButton({
          label: trans.__('Version %1 (latest)', current),
          actions: ['latest']
        })
      ],
      defaultButton: 2
    });
    if (!asked.button.accept) {
      return null;
    }
    return asked.button.actions.includes('latest');
  }

  private async _guard(
    action: () => Promise<void>,
    what: string = this._trans.__('Pipeline %1', this.pipelineName)
  ): Promise<void> {
    try {
      await action();
    } catch (error) {
      this._actions.error(what, error);
    }
  }

  protected async load(): Promise<void> {
    try {
      const [pipeline, runs] = await Promise.all([
        this._api.pipeline(this.pipelineName),
        this._api.runs(this.pipelineName, HISTORY_LIMIT)
      ]);
      if (this._pipeline?.updated_at !== pipeline.updated_at) {
        this._pipeline = pipeline;
        this.onPipelineLoaded?.(pipeline);
      }
      // Shown once fetched (see `_onScheduleChanged`); never throws.
      void this._schedules.load([pipeline]);
      this._runs = runs;
      // Details (attempts) of the listed runs: fetched once for finished runs,
      // which never change, and on every tick for the runs still going.
      const wanted = runs.filter(
        r =>
          !this._details.has(r.id) ||
          isActive(this._details.get(r.id)!) ||
          isActive(r)
      );
      const details = await Promise.all(wanted.map(r => this._api.run(r.id)));
      for (const detail of details) {
        this._details.set(detail.id, detail);
      }
      this._error = null;
    } catch (error) {
      const message = this._actions.error(
        this._trans.__('Loading pipeline %1 failed', this.pipelineName),
        error,
        this._error === null
      );
      this._error = message;
      this.update();
      throw error;
    } finally {
      this._loaded = true;
    }
    this.update();
  }

  private _actions: IPipelineActions;
  private _api: PipelinesAPI;
  private _details = new Map<string, IRun>();
  private _error: string | null = null;
  private _dagLayout: IDagLayout | null = null;
  private _layoutFor: IPipeline | null = null;
  private _loaded = false;
  private _pipeline: IPipeline | null = null;
  private _runId: string | null = null;
  private _runs: IRun[] = [];
  private _scheduleBusy = false;
  private _schedules: ScheduleModel;
  private _step: string | null = null;
  private _trans: TranslationBundle;
}

/**
 * A namespace for PipelineView statics.
 */
export namespace PipelineView {
  /**
   * Options to create a pipeline view.
   */
  export interface IOptions {
    api: PipelinesAPI;
    name: string;
    /**
     * The schedules, shared with the sidebar panel.
     */
    schedules: ScheduleModel;
    trans: TranslationBundle;
    actions: IPipelineActions;
  }
}
