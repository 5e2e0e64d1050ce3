import { GroupItem, TextItem } from '@jupyterlab/statusbar';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { HealthModel } from '../model';

/**
 * The status bar item: a coloured dot and a short label; the tooltip says
 * what is wrong, and a click opens the details.
 */
export class HealthStatusItem extends ReactWidget {
  /**
   * Create the status item.
   */
  constructor(options: HealthStatusItem.IOptions) {
    super();
    this._model = options.model;
    this._onClick = options.onClick;
    this._trans = options.trans;
    this.addClass('jp-WorkbenchHealth-item');
    // The status bar's convention for clickable items.
    this.addClass('jp-mod-highlighted');
  }

  protected render(): JSX.Element {
    return (
      <UseSignal
        signal={this._model.changed}
        initialArgs={{
          previous: this._model.summary,
          current: this._model.summary,
          notice: null
        }}
      >
        {(_, change) => {
          const summary = change?.current ?? this._model.summary;
          return (
            <GroupItem
              spacing={4}
              title={[
                summary.title,
                ...summary.problems,
                this._trans.__('Click for details.')
              ].join('\n')}
              onClick={this._onClick}
              data-severity={summary.severity}
            >
              <span
                className={`jp-WorkbenchHealth-dot jp-mod-${summary.severity}`}
                aria-hidden="true"
              />
              <TextItem source={summary.label} />
            </GroupItem>
          );
        }}
      </UseSignal>
    );
  }

  private _model: HealthModel;
  private _onClick: () => void;
  private _trans: TranslationBundle;
}

/**
 * A namespace for HealthStatusItem statics.
 */
export namespace HealthStatusItem {
  /**
   * Options to create the status item.
   */
  export interface IOptions {
    /**
     * The health model to display.
     */
    model: HealthModel;

    /**
     * Called when the item is clicked.
     */
    onClick: () => void;

    /**
     * Translation bundle for the item's own texts.
     */
    trans: TranslationBundle;
  }
}
