import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { describeError } from '../request';
import { TRANSLATION_DOMAIN } from '../tokens';
import { ConnectionsAPI } from './api';

/**
 * Command ids of the connections.
 */
export namespace ConnectionsCommandIDs {
  /**
   * Open the dialog to list, add, edit, test and remove connections.
   */
  export const manage = 'workbench:manage-connections';
}

/**
 * Command run after a connection was added or removed, when it exists: the
 * catalog reloads its sources.
 */
const CATALOG_REFRESH = 'workbench:catalog-refresh';

/**
 * The connections dialog, from the command palette and the catalog panel.
 */
export const connectionsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:connections',
  description:
    'A dialog to list, add, edit, test and remove workbench connections (secrets are write-only).',
  autoStart: true,
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new ConnectionsAPI(app.serviceManager.serverSettings);
    const { commands } = app;
    let open = false;

    commands.addCommand(ConnectionsCommandIDs.manage, {
      label: trans.__('Manage connections'),
      caption: trans.__(
        'List, add, edit, test and remove the databases and APIs the workbench connects to'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => !open,
      execute: async () => {
        const { showConnectionsDialog } =
          await import('./components/ConnectionsDialog');
        open = true;
        try {
          await showConnectionsDialog({
            api,
            trans,
            onError: (what, error) => {
              Notification.error(`${what}: ${describeError(error, trans)}`, {
                autoClose: 10000
              });
            },
            onChanged: () => {
              if (commands.hasCommand(CATALOG_REFRESH)) {
                void commands.execute(CATALOG_REFRESH);
              }
            }
          });
        } finally {
          open = false;
        }
      }
    });

    palette?.addItem({
      command: ConnectionsCommandIDs.manage,
      category: trans.__('Workbench')
    });
  }
};
