import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { sortedErrors, specErrorText } from '../deploy';
import { ISpecError } from '../tokens';

/**
 * Every problem the server found in a pipeline file, each with its line, in
 * a dialog (a notification would cut the list short). With `onOpen`, the
 * dialog offers to open the file, whose editor then marks each line.
 */
export async function showSpecErrors(options: {
  trans: TranslationBundle;
  title: string;
  errors: ISpecError[];
  onOpen?: () => void;
}): Promise<void> {
  const { trans, onOpen } = options;
  const buttons = [Dialog.cancelButton({ label: trans.__('Close') })];
  if (onOpen) {
    buttons.push(Dialog.okButton({ label: trans.__('Open File') }));
  }
  const result = await showDialog({
    title: options.title,
    body: (
      <ul className="jp-WorkbenchSpecErrors">
        {sortedErrors(options.errors).map((error, index) => (
          <li key={index} data-line={error.line ?? undefined}>
            {specErrorText(error, trans)}
          </li>
        ))}
      </ul>
    ),
    buttons
  });
  if (result.button.accept && onOpen) {
    onOpen();
  }
}
