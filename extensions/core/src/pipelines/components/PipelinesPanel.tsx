import { TranslationBundle } from '@jupyterlab/translation';
import {
  ReactWidget,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { VirtualList } from '../../catalog/components/VirtualList';
import { PipelinesAPI } from '../api';
import { stateClass } from '../dag';
import { describeSchedule, formatTime, latestRuns } from '../format';
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
 * schedule, polled while the panel is in view.
 */
export class PipelinesPanel extends ReactWidget {
  /**
   * Create the panel; polling starts when it is first shown.
   */
  constructor(options: PipelinesPanel.IOptions) {
    super();
    this._api = options.api;
    this._trans = options.trans;
    this._onOpen = options.onOpen;
    this._onError = options.onError;
    this.id = 'workbench-pipelines';
    this.title.icon = pipelinesIcon;
    this.title.caption = this._trans.__('Pipelines');
    this.addClass('jp-WorkbenchPipelines');
    this._poll = new Poll({
      auto: false,
      factory: () => this._load(),
      frequency: {
        interval: PIPELINES_POLL_INTERVAL,
        backoff: true,
        max: 60000
      },
      name: '@workbench/core:pipelines',
      standby: () => !this.isVisible || 'when-hidden'
    });
  }

  /**
   * The pipelines as last loaded.
   */
  get pipelines(): IPipeline[] {
    return this._pipelines;
  }

  /**
   * Load the list now; resolves when it is shown.
   */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (!this._started) {
      this._started = true;
      void this._poll.start();
    } else {
      void this._poll.refresh();
    }
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const pipelines = this._pipelines;
    return (
      <div className="jp-WorkbenchPipelines-body">
        <div className="jp-WorkbenchPipelines-header">
          <h2 className="jp-WorkbenchPipelines-title">
            {trans.__('Pipelines')}
          </h2>
          <ToolbarButtonComponent
            icon={refreshIcon}
            tooltip={trans.__('Load the pipelines again')}
            onClick={() => void this.refresh()}
          />
        </div>
        {this._error && (
          <div className="jp-WorkbenchPipelines-error" role="alert">
            {this._error}
          </div>
        )}
        {this._loaded && pipelines.length === 0 && !this._error ? (
          <div className="jp-WorkbenchPipelines-placeholder">
            {trans.__(
              'No pipeline deployed yet: run `workbench pipeline deploy FILE.yaml`.'
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
    const schedule = describeSchedule(pipeline.schedule);
    const when = last
      ? formatTime(last.started_at ?? last.created_at)
      : trans.__('never run');
    return (
      <div
        className="jp-WorkbenchPipelines-item"
        data-pipeline={pipeline.name}
        data-state={state}
        title={pipeline.description || pipeline.name}
      >
        <div className="jp-WorkbenchPipelines-itemName">
          <span className={`jp-WorkbenchPipelines-dot ${stateClass(state)}`} />
          <span className="jp-WorkbenchPipelines-name">{pipeline.name}</span>
          {last && (
            <span
              className={`jp-WorkbenchPipelines-badge ${stateClass(state)}`}
            >
              {last.status}
            </span>
          )}
        </div>
        <div className="jp-WorkbenchPipelines-itemDetail">
          {schedule
            ? trans.__('%1 · schedule %2', when, schedule)
            : trans.__('%1 · no schedule', when)}
        </div>
      </div>
    );
  }

  private async _load(): Promise<void> {
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
  }

  private _active = -1;
  private _api: PipelinesAPI;
  private _error: string | null = null;
  private _latest = new Map<string, IRun>();
  private _loaded = false;
  private _onError: PipelinesPanel.ErrorHandler;
  private _onOpen: (name: string) => void;
  private _pipelines: IPipeline[] = [];
  private _poll: Poll;
  private _started = false;
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
    trans: TranslationBundle;
    /**
     * Open a pipeline's view.
     */
    onOpen: (name: string) => void;
    onError: ErrorHandler;
  }
}
