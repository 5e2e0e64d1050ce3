import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { stateClass, stepState } from '../dag';
import {
  formatDuration,
  readableError,
  stateLabel,
  stripAnsi
} from '../format';
import { IAttempt, IRun } from '../tokens';

/**
 * Properties of a step's details.
 */
export interface IStepDetailsProps {
  trans: TranslationBundle;
  /**
   * The run shown, if any.
   */
  run: IRun | null;
  /**
   * The selected step, if any (nothing is shown without one).
   */
  step: string | null;
  /**
   * Open an attempt's executed notebook.
   */
  onOpenNotebook: (run: IRun, attempt: IAttempt) => void;
}

/**
 * A step in the selected run: state, last attempt, and for a failure the
 * failing cell, the error and the traceback (ANSI escapes removed), with a
 * button to open the executed notebook.
 */
export function StepDetails(props: IStepDetailsProps): JSX.Element | null {
  const { trans, run, step } = props;
  if (!step) {
    return null;
  }
  const attempts = (run?.attempts ?? []).filter(a => a.step_id === step);
  const attempt = attempts[attempts.length - 1] ?? null;
  const state = stepState(run, step);
  return (
    <div
      className="jp-WorkbenchPipeline-step"
      data-step={step}
      data-state={state}
    >
      <div className="jp-WorkbenchPipeline-stepHeader">
        <h2>{step}</h2>
        <span className={`jp-WorkbenchPipeline-badge ${stateClass(state)}`}>
          {stateLabel(state)}
        </span>
        {attempt && (
          <span>
            {trans.__(
              'attempt %1 of %2 · %3',
              attempt.attempt,
              attempts.length,
              formatDuration(attempt.duration_s)
            )}
          </span>
        )}
        {run && attempt?.output_notebook && (
          <button
            className="jp-mod-styled jp-WorkbenchPipeline-openNotebook"
            onClick={() => props.onOpenNotebook(run, attempt)}
          >
            {trans.__('Open executed notebook')}
          </button>
        )}
      </div>
      {!attempt && (
        <div className="jp-WorkbenchPipeline-placeholder">
          {run
            ? trans.__('This step has no attempt in the selected run.')
            : trans.__('Select a run to see this step.')}
        </div>
      )}
      {attempt?.failing_cell !== null &&
        attempt?.failing_cell !== undefined && (
          <div className="jp-WorkbenchPipeline-failingCell">
            {/* The API counts from 0; people count cells from 1. */}
            {trans.__(
              'Failing cell: %1 of the executed notebook',
              attempt.failing_cell + 1
            )}
          </div>
        )}
      {attempt?.error && (
        <div className="jp-WorkbenchPipeline-stepError">
          {readableError(stripAnsi(attempt.error))}
        </div>
      )}
      {attempt?.traceback && (
        <pre className="jp-WorkbenchPipeline-traceback">
          {stripAnsi(attempt.traceback)}
        </pre>
      )}
    </div>
  );
}
