import { TranslationBundle } from '@jupyterlab/translation';
import { checkIcon, ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import { IProblem, problemText } from '../yaml';

/**
 * What the bar shows: not checked yet, valid, the problems, or why the
 * check itself failed.
 */
export type ValidationState =
  | { status: 'checking' }
  | { status: 'valid' }
  | { status: 'invalid'; problems: IProblem[] }
  | { status: 'failed'; error: string };

/**
 * Tallest the bar grows before its list scrolls, in pixels.
 */
const MAX_HEIGHT = 160;

/**
 * The bar above a pipeline YAML editor: a discreet "valid pipeline", or the
 * list of problems with their line numbers, each a button that moves the
 * cursor to its line.
 */
export class ValidationBar extends ReactWidget {
  /**
   * Create the bar; `onGoTo` receives a problem to show in the editor.
   */
  constructor(options: ValidationBar.IOptions) {
    super();
    this._trans = options.trans;
    this._onGoTo = options.onGoTo;
    this.addClass('jp-WorkbenchPipelineYaml');
  }

  /**
   * What the bar shows.
   */
  get state(): ValidationState {
    return this._state;
  }
  set state(state: ValidationState) {
    this._state = state;
    this.node.dataset.status = state.status;
    this.update();
  }

  /**
   * Whether a newer text is being checked (the last result stays shown).
   */
  set checking(checking: boolean) {
    this.toggleClass('jp-mod-checking', checking);
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    void this.renderPromise?.then(() => this._fitHeight());
  }

  /**
   * The editor's header lays its widgets out at their CSS minimum height: it
   * is the height of what the bar shows, up to MAX_HEIGHT.
   */
  private _fitHeight(): void {
    const body = this.node.firstElementChild as HTMLElement | null;
    const height = Math.min(body?.offsetHeight ?? 0, MAX_HEIGHT);
    const minHeight = `${height}px`;
    if (this.isDisposed || this.node.style.minHeight === minHeight) {
      return;
    }
    this.node.style.minHeight = minHeight;
    this.parent?.fit();
  }

  protected render(): JSX.Element {
    return (
      <div className="jp-WorkbenchPipelineYaml-body">{this._renderState()}</div>
    );
  }

  private _renderState(): JSX.Element {
    const trans = this._trans;
    const state = this._state;
    switch (state.status) {
      case 'checking':
        return (
          <div className="jp-WorkbenchPipelineYaml-summary">
            {trans.__('Checking the pipeline…')}
          </div>
        );
      case 'valid':
        return (
          <div
            className="jp-WorkbenchPipelineYaml-summary jp-mod-valid"
            title={trans.__('The workbench found no problem in this pipeline')}
          >
            <checkIcon.react
              tag="span"
              className="jp-WorkbenchPipelineYaml-icon"
            />
            {trans.__('Valid pipeline')}
          </div>
        );
      case 'failed':
        return (
          <div className="jp-WorkbenchPipelineYaml-summary jp-mod-failed">
            {trans.__('Could not check this pipeline: %1', state.error)}
          </div>
        );
      case 'invalid':
        return this._renderProblems(state.problems);
    }
  }

  private _renderProblems(problems: IProblem[]): JSX.Element {
    const trans = this._trans;
    return (
      <div className="jp-WorkbenchPipelineYaml-problems" role="alert">
        <div className="jp-WorkbenchPipelineYaml-summary jp-mod-invalid">
          {trans._n(
            '%1 problem in this pipeline',
            '%1 problems in this pipeline',
            problems.length
          )}
        </div>
        <ul className="jp-WorkbenchPipelineYaml-list">
          {problems.map((problem, index) => (
            <li key={index}>
              <button
                className="jp-WorkbenchPipelineYaml-problem"
                data-line={problem.line ?? ''}
                disabled={problem.line === null}
                title={
                  problem.line === null
                    ? undefined
                    : trans.__('Go to line %1', problem.line)
                }
                onClick={() => this._onGoTo(problem)}
              >
                <span className="jp-WorkbenchPipelineYaml-line">
                  {problem.line === null
                    ? trans.__('File')
                    : trans.__('Line %1', problem.line)}
                </span>
                <span className="jp-WorkbenchPipelineYaml-message">
                  {problemText(problem)}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </div>
    );
  }

  private _onGoTo: (problem: IProblem) => void;
  private _state: ValidationState = { status: 'checking' };
  private _trans: TranslationBundle;
}

/**
 * A namespace for ValidationBar statics.
 */
export namespace ValidationBar {
  /**
   * Options to create the bar.
   */
  export interface IOptions {
    trans: TranslationBundle;
    onGoTo: (problem: IProblem) => void;
  }
}
