import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

// Both are needed while activating: the status item is shown at start-up.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { HealthStatusItem } from './components/HealthStatusItem';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { HealthModel } from './model';
import { catalogPlugin } from './catalog/plugin';
import { connectionsPlugin } from './connections/plugin';
import { defaultKernelPlugin } from './kernels/plugin';
import { operationsPlugin } from './operations/plugin';
import { pipelinesPlugin } from './pipelines/plugin';
import { receiptsPlugin } from './ocr/plugin';
import { TRANSLATION_DOMAIN } from './tokens';

export { CatalogCommandIDs } from './catalog/plugin';
export { ConnectionsCommandIDs } from './connections/plugin';
export { OperationsCommandIDs } from './operations/plugin';
export { PipelineFileCommandIDs } from './pipelines/fileCommands';
export { PipelinesCommandIDs } from './pipelines/plugin';

/**
 * Command ids of the workbench core.
 */
export namespace CommandIDs {
  /**
   * Open the workbench health dialog.
   */
  export const showHealth = 'workbench:show-health';
}

/**
 * Polls the workbench health, shows it in the status bar and the palette, and
 * notifies when it changes.
 */
const healthPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:health',
  description:
    'Shows the health of the workbench server (metadata DB, Temporal, pipeline worker) in the status bar.',
  autoStart: true,
  optional: [IStatusBar, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new HealthModel({
      serverSettings: app.serviceManager.serverSettings,
      translator
    });

    app.commands.addCommand(CommandIDs.showHealth, {
      label: trans.__('Show Workbench Health'),
      caption: trans.__(
        'Check the workbench server, metadata DB, Temporal and pipeline worker'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const { showHealthDialog } = await import('./components/HealthDetails');
        await showHealthDialog(model, trans);
      }
    });
    palette?.addItem({
      command: CommandIDs.showHealth,
      category: trans.__('Workbench')
    });

    if (statusBar) {
      const item = new HealthStatusItem({
        model,
        trans,
        onClick: () => void app.commands.execute(CommandIDs.showHealth)
      });
      statusBar.registerStatusItem(healthPlugin.id, {
        item,
        align: 'left',
        rank: 100
      });
    }

    // One notification per change of state, replacing the previous one so the
    // notification area does not fill up with repeats of a flapping service.
    let noticeId: string | null = null;
    model.changed.connect((_, { notice }) => {
      if (!notice) {
        return;
      }
      if (noticeId !== null) {
        Notification.dismiss(noticeId);
      }
      noticeId = Notification.emit(notice.message, notice.type, {
        autoClose: notice.type === 'success' ? 5000 : false,
        actions: [
          {
            label: trans.__('Details'),
            caption: trans.__('Show the health of each part'),
            callback: () => void app.commands.execute(CommandIDs.showHealth)
          }
        ]
      });
    });
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  healthPlugin,
  catalogPlugin,
  connectionsPlugin,
  defaultKernelPlugin,
  operationsPlugin,
  pipelinesPlugin,
  receiptsPlugin
];

export default plugins;
