/**
 * The connections dialog: a widget around `ConnectionsManager`.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  ConnectionsManager,
  IConnectionsDialogOptions
} from './ConnectionsManager';

export { ConnectionsManager };
export type { IConnectionsDialogOptions };
export { testSummary } from '../testResult';

/**
 * The body of the connections dialog: the list of connections, and the form
 * of the one selected (or of a new one).
 */
export class ConnectionsBody extends ReactWidget {
  /**
   * Create the body; it loads the connections when first rendered.
   */
  constructor(options: IConnectionsDialogOptions) {
    super();
    this._options = options;
    this.addClass('jp-WorkbenchConnections');
  }

  protected onAfterAttach(msg: any): void {
    super.onAfterAttach(msg);
    // Before the dialog's own handler (capturing on the dialog node), which
    // would close the dialog on Enter in any input: here Enter saves the form.
    document.addEventListener('keydown', this._onKeyDown, true);
  }

  protected onBeforeDetach(msg: any): void {
    document.removeEventListener('keydown', this._onKeyDown, true);
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    document.removeEventListener('keydown', this._onKeyDown, true);
    super.dispose();
  }

  protected render(): JSX.Element {
    return <ConnectionsManager {...this._options} />;
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target;
    if (event.key !== 'Enter' || !(target instanceof HTMLElement)) {
      return;
    }
    if (!this.node.contains(target)) {
      return;
    }
    const isInput =
      target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
    if (!isInput) {
      return; // buttons and links handle Enter themselves
    }
    event.stopPropagation();
    event.preventDefault();
    if (target instanceof HTMLInputElement && target.type === 'checkbox') {
      return;
    }
    target.form?.requestSubmit();
  };

  private _options: IConnectionsDialogOptions;
}

/**
 * Show the connections dialog until it is closed.
 */
export async function showConnectionsDialog(
  options: IConnectionsDialogOptions
): Promise<void> {
  const { trans } = options;
  const dialog = new Dialog({
    title: trans.__('Workbench connections'),
    body: new ConnectionsBody(options),
    buttons: [Dialog.cancelButton({ label: trans.__('Close') })],
    focusNodeSelector: '.jp-WorkbenchConnections-add',
    hasClose: true
  });
  dialog.addClass('jp-WorkbenchConnectionsDialog');
  await dialog.launch();
}
