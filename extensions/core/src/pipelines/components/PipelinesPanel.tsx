import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { VirtualList } from '../../catalog/components/VirtualList';
import { PipelinesAPI } from '../api';
import { stateClass } from '../dag';
import {
  describeSchedule,
  formatAgo,
  formatTime,
  latestRuns,
  scheduleZone,
  stateLabel
} from '../format';
import { PolledWidget } from '../../components/PolledWidget';
import { PanelHeader, setUpSidebarPanel } from '../../components/SidebarPanel';
import { formatNextRun, ScheduleModel, timeUntil } from '../schedules';
import { IPipeline, IRun } from '../tokens';
import { pipelinesIcon } from './icons';

/**
 * How often the list is polled while the panel is visible, in milliseconds.
 */
export const PIPELINES_POLL_INTERVAL = 5000;

/**
 * Runs fetched to find the last run of each pipeline.
 */
const RECENT_RUNS = 200;

const ROW_HEIGHT = 44;

/**
 * The pipelines sidebar: every deployed pipeline with its last run and its
 * schedule (next run, or paused), polled while the panel is in view.
 */
export class PipelinesPanel extends PolledWidget {
  /**
   * Create the panel; polling starts when it is first shown.
   */
  constructor(options: PipelinesPanel.IOptions) {
    super({
      interval: PIPELINES_POLL_INTERVAL,
      name: '@workbench/core:pipelines'
    });
    this._api = options.api;
    this._schedules = options.schedules;
    this._trans = options.trans;
    this._onOpen = options.onOpen;
    this._onError = options.onError;
    setUpSidebarPanel(this, {
      id: 'workbench-pipelines',
      icon: pipelinesIcon,
      caption: this._trans.__('Pipelines'),
      className: 'jp-WorkbenchPipelines'
    });
    this._schedules.changed.connect(this._onScheduleChanged, this);
  }

  /**
   * The pipelines as last loaded.
   */
  get pipelines(): IPipeline[] {
    return this._pipelines;
  }

  dispose(): void {
    this._schedules.changed.disconnect(this._onScheduleChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const pipelines = this._pipelines;
    return (
      <div className="jp-WorkbenchPipelines-body">
        <PanelHeader
          title={trans.__('Pipelines')}
          actions={[
            {
              icon: refreshIcon,
              tooltip: trans.__('Load the pipelines again'),
              onClick: () => void this.refresh()
            }
          ]}
        />
        {this._error && (
          <div className="jp-WorkbenchPipelines-error" role="alert">
            {this._error}
          </div>
        )}
        {this._loaded && pipelines.length === 0 && !this._error ? (
          <div className="jp-WorkbenchPipelines-placeholder">
            {trans.__(
              'No pipeline deployed yet: right-click a pipeline YAML file in the file browser and choose Deploy Pipeline.'
            )}
          </div>
        ) : (
          <VirtualList
            className="jp-WorkbenchPipelines-list"
            role="listbox"
            label={trans.__('Deployed pipelines')}
            rowCount={pipelines.length}
            rowHeight={ROW_HEIGHT}
            rowKey={index => `p-${pipelines[index]?.name ?? index}`}
            activeIndex={this._active}
            onActiveChange={index => {
              this._active = index;
              this.update();
            }}
            onActivate={index => {
              const pipeline = pipelines[index];
              if (pipeline) {
                this._onOpen(pipeline.name);
              }
            }}
            renderRow={index => this._renderRow(pipelines[index])}
          />
        )}
      </div>
    );
  }

  private _renderRow(pipeline: IPipeline | undefined): React.ReactNode {
    if (!pipeline) {
      return null;
    }
    const trans = this._trans;
    const last = this._latest.get(pipeline.name) ?? null;
    const state = last?.status ?? 'none';
    const started = last ? (last.started_at ?? last.created_at) : null;
    // Short, so that the schedule fits the sidebar; the time is in the tooltip.
    const when = started ? formatAgo(started) : trans.__('never run');
    return (
      <div
        className="jp-WorkbenchPipelines-item"
        data-pipeline={pipeline.name}
        data-state={state}
        data-schedule={this._schedules.state(pipeline)}
        title={[
          pipeline.description || pipeline.name,
          started ? trans.__('last run %1', formatTime(started)) : ''
        ]
          .filter(Boolean)
          .join('\n')}
      >
        <div className="jp-WorkbenchPipelines-itemName">
          <span className={`jp-WorkbenchPipelines-dot ${stateClass(state)}`} />
          <span className="jp-WorkbenchPipelines-name">{pipeline.name}</span>
          {last && (
            <span
              className={`jp-WorkbenchPipelines-badge ${stateClass(state)}`}
            >
              {stateLabel(last.status)}
            </span>
          )}
        </div>
        <div className="jp-WorkbenchPipelines-itemDetail">
          {when} · {this._renderSchedule(pipeline)}
        </div>
      </div>
    );
  }

  /**
   * The next run, or that the schedule is paused, or that there is none.
   */
  private _renderSchedule(pipeline: IPipeline): React.ReactNode {
    const trans = this._trans;
    const state = this._schedules.state(pipeline);
    if (state === 'none') {
      return trans.__('no schedule');
    }
    // The spec's `paused` is only the state at deployment: Temporal's counts.
    const cron = describeSchedule({ ...pipeline.schedule, paused: false });
    const next = this._schedules.get(pipeline.name)?.next_runs[0];
    // Short enough for the sidebar; the date and time are in the tooltip.
    let text = trans.__('schedule %1', cron);
    let title = trans.__('Schedule %1', cron);
    if (state === 'paused') {
      text = trans.__('schedule paused');
      title = trans.__('Schedule %1, paused', cron);
    } else if (state === 'active' && next) {
      text = trans.__('next run %1', timeUntil(Date.parse(next), Date.now()));
      title = trans.__(
        'Schedule %1, next run %2',
        cron,
        formatNextRun(next, Date.now(), scheduleZone(pipeline.schedule))
      );
    }
    return (
      <span
        className="jp-WorkbenchPipelines-schedule"
        data-schedule={state}
        title={title}
      >
        {text}
      </span>
    );
  }

  private _onScheduleChanged(): void {
    this.update();
  }

  protected async load(): Promise<void> {
    let pipelines: IPipeline[];
    let runs: IRun[];
    try {
      [pipelines, runs] = await Promise.all([
        this._api.pipelines(),
        this._api.runs(null, RECENT_RUNS)
      ]);
    } catch (error) {
      // Say it once, in the panel and the notification area, not every 5 s.
      const message = this._onError(
        this._trans.__('Loading the pipelines failed'),
        error,
        this._error === null
      );
      this._error = message;
      this._loaded = true;
      this.update();
      throw error; // the poll backs off
    }
    this._error = null;
    this._loaded = true;
    this._pipelines = pipelines;
    this._latest = latestRuns(runs);
    this.update();
    // Shown once fetched (see `_onScheduleChanged`); failures stay per row.
    void this._schedules.load(pipelines);
  }

  private _active = -1;
  private _api: PipelinesAPI;
  private _error: string | null = null;
  private _latest = new Map<string, IRun>();
  private _loaded = false;
  private _onError: PipelinesPanel.ErrorHandler;
  private _onOpen: (name: string) => void;
  private _pipelines: IPipeline[] = [];
  private _schedules: ScheduleModel;
  private _trans: TranslationBundle;
}

/**
 * A namespace for PipelinesPanel statics.
 */
export namespace PipelinesPanel {
  /**
   * Report a failure (`what` says what was attempted); `notify` false keeps it
   * out of the notification area. Returns the message shown.
   */
  export type ErrorHandler = (
    what: string,
    error: unknown,
    notify?: boolean
  ) => string;

  /**
   * Options to create the panel.
   */
  export interface IOptions {
    api: PipelinesAPI;
    /**
     * The schedules, shared with the pipeline views.
     */
    schedules: ScheduleModel;
    trans: TranslationBundle;
    /**
     * Open a pipeline's view.
     */
    onOpen: (name: string) => void;
    onError: ErrorHandler;
  }
}
