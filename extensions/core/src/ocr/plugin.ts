import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { OcrAPI } from './api';
import { receiptIcon } from './icons';

/**
 * Command ids of the receipts review.
 */
export namespace ReceiptsCommandIDs {
  /**
   * Open the receipts review queue (or bring it to the front).
   */
  export const open = 'workbench:receipts-review-open';
}

const WIDGET_ID = 'workbench-receipts-review';

/**
 * The receipts review: documents the OCR flow was unsure of, each image
 * beside its editable fields, approved into Odoo or rejected.
 */
export const receiptsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:receipts',
  description:
    'Receipts review: OCR-read receipts and bills waiting for a person, the image beside its editable fields, approve (the expense is made in Odoo) or reject.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new OcrAPI(app.serviceManager.serverSettings);
    const { commands, shell } = app;
    const tracker = new WidgetTracker<MainAreaWidget>({
      namespace: 'workbench-receipts'
    });

    commands.addCommand(ReceiptsCommandIDs.open, {
      label: trans.__('Review Receipts'),
      caption: trans.__(
        'Receipts and bills the OCR flow was unsure of: check, correct, approve or reject'
      ),
      icon: receiptIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        let widget = tracker.find(w => w.id === WIDGET_ID);
        if (!widget) {
          const { ReviewView } = await import('./components/ReviewView');
          const content = new ReviewView({ api, trans });
          widget = new MainAreaWidget({ content });
          widget.id = WIDGET_ID;
          widget.title.icon = receiptIcon;
          widget.title.label = trans.__('Receipts');
          widget.title.closable = true;
          shell.add(widget, 'main');
          void tracker.add(widget);
        }
        shell.activateById(widget.id);
        return widget;
      }
    });
    palette?.addItem({
      command: ReceiptsCommandIDs.open,
      category: trans.__('Workbench')
    });
    restorer?.restore(tracker, {
      command: ReceiptsCommandIDs.open,
      name: () => 'receipts'
    });
  }
};
