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
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { OperationsAPI } from './api';
import { operationsIcon } from './icons';

/**
 * Command ids of the Operations view.
 */
export namespace OperationsCommandIDs {
  /**
   * Open the Operations view (or bring it to the front).
   */
  export const open = 'workbench:operations-open';
}

const WIDGET_ID = 'workbench-operations';

/**
 * The Operations view: a main-area page with the run figures, trend, SLAs,
 * alerts, task queue and health, opened from the palette or the launcher.
 */
export const operationsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:operations',
  description:
    'Operations view: pipeline success rate, durations and their trend, SLA state and predicted misses, firing alerts with acknowledge and silence (admins), the task queue backlog, workers and the health of each part.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ITranslator, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    launcher: ILauncher | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new OperationsAPI(app.serviceManager.serverSettings);
    const { commands, shell } = app;
    const tracker = new WidgetTracker<MainAreaWidget>({
      namespace: 'workbench-operations'
    });

    commands.addCommand(OperationsCommandIDs.open, {
      label: args =>
        args.isLauncher ? trans.__('Operations') : trans.__('Open Operations'),
      caption: trans.__(
        'Pipeline success rate, durations, SLAs, alerts, task queue and health'
      ),
      icon: operationsIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            isLauncher: {
              type: 'boolean',
              description: 'Labelled for the launcher (a card: "Operations")'
            }
          }
        }
      },
      execute: async () => {
        let widget = tracker.find(w => w.id === WIDGET_ID);
        if (!widget) {
          const { OperationsView } =
            await import('./components/OperationsView');
          const content = new OperationsView({
            api,
            trans,
            onOpenPipeline: async name => {
              const { PipelinesCommandIDs } =
                await import('../pipelines/plugin');
              await commands.execute(PipelinesCommandIDs.open, { name });
            }
          });
          widget = new MainAreaWidget({ content });
          widget.id = WIDGET_ID;
          widget.title.icon = operationsIcon;
          widget.title.label = trans.__('Operations');
          widget.title.closable = true;
          shell.add(widget, 'main');
          void tracker.add(widget);
        }
        shell.activateById(widget.id);
        return widget;
      }
    });
    palette?.addItem({
      command: OperationsCommandIDs.open,
      category: trans.__('Workbench')
    });
    launcher?.add({
      command: OperationsCommandIDs.open,
      args: { isLauncher: true },
      category: trans.__('Workbench'),
      rank: 10
    });
    restorer?.restore(tracker, {
      command: OperationsCommandIDs.open,
      name: () => 'operations'
    });
  }
};
