import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  Dialog,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

// A command id only; the index loads the connections plugin anyway.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ConnectionsCommandIDs } from '../connections/plugin';
import { APIError, describeError } from '../request';
import { defaultKernelName } from '../kernels/defaultKernel';
import { TRANSLATION_DOMAIN } from '../tokens';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { CatalogAPI } from './api';
// The panel is in the sidebar from the start, so it is needed at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { CatalogPanel } from './components/CatalogPanel';

import { catalogIcon } from './components/icons';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { TableTab, TableView } from './components/TableView';
import { ScanModel } from './scans';
import {
  publishRequest,
  publishSummary,
  supersetTargets,
  unpublishSummary
} from './publish';
import { buildQueryCell, qualifiedName } from './sql';
import { IDatasetRef, ISource, ITable } from './tokens';

/**
 * Command ids of the catalog.
 */
export namespace CatalogCommandIDs {
  /**
   * Open the catalog panel, or with `id` a table's view (`tab` picks a tab).
   */
  export const open = 'workbench:catalog-open';

  /**
   * Focus the catalog search box (with `query`, search it).
   */
  export const search = 'workbench:catalog-search';

  /**
   * Add a cell reading the table to the current notebook.
   */
  export const insertQuery = 'workbench:catalog-insert-query';

  /**
   * Copy the table's SQL name.
   */
  export const copyName = 'workbench:catalog-copy-name';

  /**
   * Show the table's lineage.
   */
  export const openLineage = 'workbench:catalog-open-lineage';

  /**
   * Load the catalog panel again.
   */
  export const refresh = 'workbench:catalog-refresh';

  /**
   * Scan a connection (`name`; else the source selected in the panel, else
   * one picked from a list) into the catalog, on the worker.
   */
  export const scan = 'workbench:catalog-scan';
}

/**
 * Rank of the panel in the left sidebar: right after the file browser (100).
 */
const SIDEBAR_RANK = 150;

const TABLE_ARGS = {
  type: 'object',
  properties: {
    id: { type: 'number', description: 'Catalog id of the table' }
  }
};

/**
 * The data catalog: a sidebar panel to search and browse tables, a view per
 * table, and commands to query a table from a notebook.
 */
export const catalogPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:catalog',
  description:
    'Data catalog panel: search and browse the tables of the workbench connections, curate them, preview them and query them from notebooks.',
  autoStart: true,
  optional: [ICommandPalette, INotebookTracker, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new CatalogAPI(app.serviceManager.serverSettings);
    const { commands, shell } = app;

    const notifyError = (what: string, error: unknown): string => {
      const message = `${what}: ${describeError(error, trans)}`;
      Notification.error(message, { autoClose: 10000 });
      return message;
    };

    const tracker = new WidgetTracker<MainAreaWidget<TableView>>({
      namespace: 'workbench-catalog-table'
    });

    const scans = new ScanModel(api);
    const panel = new CatalogPanel({
      api,
      scans,
      trans,
      onOpen: table => void openTable(table.id, table),
      onScan: name => void commands.execute(CatalogCommandIDs.scan, { name }),
      onError: notifyError,
      onManageConnections: () =>
        void commands.execute(ConnectionsCommandIDs.manage)
    });
    shell.add(panel, 'left', { rank: SIDEBAR_RANK, type: 'Data Catalog' });

    const openTable = (
      id: number,
      table: ITable | null = null,
      tab: TableTab | null = null
    ): MainAreaWidget<TableView> => {
      let widget = tracker.find(w => w.content.tableId === id);
      if (!widget) {
        const content = new TableView({
          api,
          tableId: id,
          table,
          trans,
          actions: {
            insertQuery: t => void insertQuery(t),
            copyName,
            publish: t => void publish(t),
            unpublish: t => void unpublish(t),
            openDataset: dataset => void openDataset(dataset),
            openTable: tableId => void openTable(tableId),
            error: notifyError
          }
        });
        widget = new MainAreaWidget({ content });
        widget.id = `workbench-catalog-table-${id}`;
        widget.title.icon = catalogIcon;
        widget.title.closable = true;
        const title = (t: ITable | null) => {
          widget!.title.label = t ? t.name : trans.__('Table %1', id);
          widget!.title.caption = t
            ? `${t.connection} · ${t.schema}.${t.name}${t.label ? ` (${t.label})` : ''}`
            : '';
        };
        title(table);
        content.onTableLoaded = title;
        shell.add(widget, 'main');
        void tracker.add(widget);
      }
      if (tab) {
        widget.content.showTab(tab);
      }
      shell.activateById(widget.id);
      return widget;
    };

    // The table a command without an `id` acts on: the table view in front,
    // else the table selected in the panel.
    const currentTable = (): ITable | null => {
      const view = tracker.currentWidget;
      if (view && shell.currentWidget === view) {
        return view.content.table;
      }
      return panel.selectedTable ?? view?.content.table ?? null;
    };

    const tableFor = async (args: { id?: unknown }): Promise<ITable | null> => {
      if (typeof args.id === 'number') {
        const open = tracker.find(w => w.content.tableId === args.id);
        return open?.content.table ?? (await api.table(args.id));
      }
      const table = currentTable();
      if (!table) {
        Notification.warning(
          trans.__(
            'No catalog table selected: pick one in the Data Catalog panel first.'
          ),
          { autoClose: 5000 }
        );
      }
      return table;
    };

    let sources: Promise<ISource[]> | null = null;
    const connectionKind = async (connection: string): Promise<string> => {
      sources = sources ?? api.sources();
      try {
        return (
          (await sources).find(s => s.connection === connection)?.kind ?? ''
        );
      } catch {
        sources = null;
        return ''; // then it is queried as SQL, which is right for most
      }
    };

    const insertQuery = async (table: ITable): Promise<void> => {
      const notebook = notebooks?.currentWidget ?? null;
      if (!notebook) {
        // A hint, not a failure: it stays until acted on or dismissed, so
        // its "New notebook" button does not vanish while being read.
        Notification.info(
          trans.__(
            'Open a notebook first: the query of %1 goes into the current notebook.',
            table.name
          ),
          {
            autoClose: false,
            actions: [
              {
                label: trans.__('New notebook'),
                caption: trans.__(
                  'Create a notebook with the Workbench kernel and insert the query'
                ),
                displayType: 'accent',
                callback: () => {
                  void commands
                    .execute('notebook:create-new', {
                      kernelName:
                        defaultKernelName(
                          app.serviceManager.kernelspecs.specs
                        ) ?? undefined
                    })
                    .then(() => insertQuery(table));
                }
              }
            ]
          }
        );
        return;
      }
      await notebook.context.ready;
      const source = buildQueryCell(
        table,
        await connectionKind(table.connection)
      );
      const content = notebook.content;
      NotebookActions.insertBelow(content);
      if (content.activeCell?.model.type !== 'code') {
        NotebookActions.changeCellType(content, 'code');
      }
      content.activeCell?.model.sharedModel.setSource(source);
      shell.activateById(notebook.id);
      content.activeCell?.node.scrollIntoView({ block: 'nearest' });
    };

    const publish = async (table: ITable): Promise<void> => {
      let all: ISource[];
      try {
        all = await api.sources();
      } catch (error) {
        notifyError(trans.__('Publishing %1 failed', table.name), error);
        return;
      }
      const targets = supersetTargets(all);
      if (!targets.length) {
        Notification.info(
          trans.__(
            'Add a superset connection first: %1 is published to it.',
            table.name
          ),
          {
            autoClose: false,
            actions: [
              {
                label: trans.__('Connections'),
                callback: () =>
                  void commands.execute(ConnectionsCommandIDs.manage)
              }
            ]
          }
        );
        return;
      }
      let to = targets[0];
      if (targets.length > 1) {
        const picked = await InputDialog.getItem({
          title: trans.__('Publish %1 to', table.name),
          items: targets
        });
        if (!picked.button.accept || !picked.value) {
          return;
        }
        to = picked.value;
      }
      const request = publishRequest(table, all, to);
      if (!request) {
        Notification.warning(
          trans.__('Only lake tables can be published to Superset.'),
          { autoClose: 5000 }
        );
        return;
      }
      const id = Notification.emit(
        trans.__('Publishing %1 to %2…', request.table, to),
        'in-progress',
        { autoClose: false }
      );
      try {
        const result = await api.publish(request);
        Notification.update({
          id,
          message: publishSummary(result, trans),
          type: 'success',
          autoClose: 10000,
          actions: [
            {
              label: trans.__('Open in Superset'),
              callback: () => window.open(result.dataset_url, '_blank')
            }
          ]
        });
      } catch (error) {
        Notification.dismiss(id);
        notifyError(trans.__('Publishing %1 failed', table.name), error);
      }
    };

    const unpublish = async (table: ITable): Promise<void> => {
      let all: ISource[];
      try {
        all = await api.sources();
      } catch (error) {
        notifyError(
          trans.__('Removing %1 from Superset failed', table.name),
          error
        );
        return;
      }
      const targets = supersetTargets(all);
      const published = publishRequest(table, all, targets[0] ?? '');
      if (!targets.length || !published) {
        Notification.warning(
          trans.__('%1 is not a lake table published to Superset.', table.name),
          { autoClose: 5000 }
        );
        return;
      }
      let to = targets[0];
      if (targets.length > 1) {
        const picked = await InputDialog.getItem({
          title: trans.__('Remove %1 from', table.name),
          items: targets
        });
        if (!picked.button.accept || !picked.value) {
          return;
        }
        to = picked.value;
      }
      const request = { table: published.table, to, lake: published.lake };
      const sure = await showDialog({
        title: trans.__('Remove from Superset'),
        body: trans.__(
          'Delete the dataset of %1 in %2, and its copy that Superset reads?',
          request.table,
          to
        ),
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: trans.__('Remove') })
        ]
      });
      if (!sure.button.accept) {
        return;
      }
      let result;
      try {
        result = await api.unpublish(request);
      } catch (error) {
        if (!(error instanceof APIError) || error.status !== 409) {
          notifyError(
            trans.__('Removing %1 from Superset failed', table.name),
            error
          );
          return;
        }
        // charts use the dataset: the server named them
        const forced = await showDialog({
          title: trans.__('Charts use %1', request.table),
          body: describeError(error, trans),
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: trans.__('Remove anyway') })
          ]
        });
        if (!forced.button.accept) {
          return;
        }
        try {
          result = await api.unpublish({ ...request, force: true });
        } catch (again) {
          notifyError(
            trans.__('Removing %1 from Superset failed', table.name),
            again
          );
          return;
        }
      }
      Notification.success(unpublishSummary(result, trans), {
        autoClose: 10000
      });
    };

    const copyName = (table: ITable): void => {
      const name = qualifiedName(table.schema, table.name);
      Clipboard.copyToSystem(name);
      Notification.info(trans.__('Copied %1', name), { autoClose: 3000 });
    };

    const openDataset = async (dataset: IDatasetRef): Promise<void> => {
      if (typeof dataset.table_id === 'number') {
        openTable(dataset.table_id);
        return;
      }
      const dot = dataset.name.indexOf('.');
      const schema = dot > 0 ? dataset.name.slice(0, dot) : undefined;
      const name = dot > 0 ? dataset.name.slice(dot + 1) : dataset.name;
      try {
        const page = await api.tables({
          connection: dataset.namespace,
          schema,
          limit: 500
        });
        const found = page.items.find(t => t.name === name);
        if (found) {
          openTable(found.id, found);
          return;
        }
        Notification.warning(
          trans.__(
            '%1 is not in the catalog: scan connection %2 to add it.',
            dataset.name,
            dataset.namespace
          ),
          { autoClose: 8000 }
        );
      } catch (error) {
        notifyError(
          trans.__('Opening %1:%2 failed', dataset.namespace, dataset.name),
          error
        );
      }
    };

    const withTable =
      (action: (table: ITable) => void | Promise<void>) =>
      async (args: { id?: unknown }) => {
        try {
          const table = await tableFor(args);
          if (table) {
            await action(table);
          }
        } catch (error) {
          notifyError(trans.__('The catalog action failed'), error);
        }
      };

    commands.addCommand(CatalogCommandIDs.open, {
      label: args =>
        typeof args.id === 'number'
          ? trans.__('Open Catalog Table')
          : trans.__('Open Data Catalog'),
      caption: trans.__('Show the data catalog, or a table of it'),
      icon: args => (typeof args.id === 'number' ? undefined : catalogIcon),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            id: { type: 'number', description: 'Catalog id of a table' },
            tab: {
              type: 'string',
              enum: ['columns', 'preview', 'lineage', 'history']
            }
          }
        }
      },
      execute: args => {
        if (typeof args.id === 'number') {
          openTable(args.id, null, (args.tab as TableTab | undefined) ?? null);
        } else {
          shell.activateById(panel.id);
        }
      }
    });

    commands.addCommand(CatalogCommandIDs.search, {
      label: trans.__('Search the Data Catalog'),
      caption: trans.__('Find tables by name, label, column or description'),
      describedBy: {
        args: {
          type: 'object',
          properties: { query: { type: 'string' } }
        }
      },
      execute: args => {
        shell.activateById(panel.id);
        panel.focusSearch(
          typeof args.query === 'string' ? args.query : undefined
        );
      }
    });

    commands.addCommand(CatalogCommandIDs.insertQuery, {
      label: trans.__('Insert Catalog Table Query into Notebook'),
      caption: trans.__(
        'Add a %%sql cell reading the selected table below the active cell'
      ),
      describedBy: { args: TABLE_ARGS },
      execute: withTable(insertQuery)
    });

    commands.addCommand(CatalogCommandIDs.copyName, {
      label: trans.__('Copy Catalog Table Name'),
      caption: trans.__('Copy schema.table, quoted for SQL where needed'),
      describedBy: { args: TABLE_ARGS },
      execute: withTable(copyName)
    });

    commands.addCommand(CatalogCommandIDs.openLineage, {
      label: trans.__('Open Catalog Table Lineage'),
      caption: trans.__('Show what the selected table is made from and feeds'),
      describedBy: { args: TABLE_ARGS },
      execute: withTable(table => {
        openTable(table.id, table, 'lineage');
      })
    });

    commands.addCommand(CatalogCommandIDs.refresh, {
      label: trans.__('Reload the Data Catalog'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        sources = null; // a connection may have been added or removed
        panel.refresh();
      }
    });

    // The source a scan is for: named, right-clicked, selected, else picked.
    const sourceToScan = async (args: {
      name?: unknown;
      fromMenu?: unknown;
    }): Promise<string | null> => {
      if (typeof args.name === 'string' && args.name) {
        return args.name;
      }
      // The row right-clicked (only from the menu: the last right-click may
      // have been long ago, elsewhere).
      const clicked = args.fromMenu
        ? app.contextMenuHitTest(node => node.dataset.source !== undefined)
        : undefined;
      if (clicked?.dataset.source) {
        return clicked.dataset.source;
      }
      if (panel.selectedSource) {
        return panel.selectedSource;
      }
      const scannable = (await api.sources()).filter(s => s.scannable);
      if (scannable.length === 0) {
        Notification.warning(
          trans.__(
            'No connection to scan: add one with Manage connections first.'
          ),
          { autoClose: 5000 }
        );
        return null;
      }
      const picked = await InputDialog.getItem({
        title: trans.__('Scan a connection into the catalog'),
        label: trans.__('Connection'),
        items: scannable.map(s => s.connection),
        okLabel: trans.__('Scan')
      });
      return picked.button.accept ? picked.value : null;
    };

    commands.addCommand(CatalogCommandIDs.scan, {
      label: args =>
        typeof args.name === 'string' && args.name
          ? trans.__('Scan %1 into the Catalog', args.name)
          : args.fromMenu
            ? trans.__('Scan into the Catalog')
            : trans.__('Scan Connection into the Catalog…'),
      caption: trans.__(
        "Describe a connection's tables and columns in the catalog (runs on the worker)"
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'Name of a connection' },
            fromMenu: {
              type: 'boolean',
              description: 'Scan the source right-clicked in the panel'
            }
          }
        }
      },
      execute: async args => {
        let name: string | null;
        try {
          name = await sourceToScan(args);
        } catch (error) {
          notifyError(trans.__('Listing the catalog sources failed'), error);
          return;
        }
        if (!name) {
          return;
        }
        // Progress and outcome show at the top of the panel; said here too
        // only when the panel is not in view.
        const done = await scans.scan(name);
        if (panel.isVisible) {
          return;
        }
        if (done.status === 'succeeded') {
          const stats = done.scan?.stats ?? {};
          Notification.success(
            trans.__(
              'Scanned %1 into the catalog: %2 tables, %3 columns',
              name,
              String(stats.tables ?? '?'),
              String(stats.columns ?? '?')
            ),
            { autoClose: 5000 }
          );
        } else {
          Notification.error(
            trans.__('Scanning %1 failed: %2', name, done.error ?? ''),
            { autoClose: 10000 }
          );
        }
      }
    });

    app.contextMenu.addItem({
      command: CatalogCommandIDs.scan,
      args: { fromMenu: true },
      selector: '.jp-WorkbenchCatalog-node[data-source]',
      rank: 10
    });

    if (palette) {
      const category = trans.__('Workbench');
      for (const command of [
        CatalogCommandIDs.open,
        CatalogCommandIDs.search,
        CatalogCommandIDs.insertQuery,
        CatalogCommandIDs.copyName,
        CatalogCommandIDs.openLineage,
        CatalogCommandIDs.scan,
        CatalogCommandIDs.refresh
      ]) {
        palette.addItem({ command, category });
      }
    }

    if (restorer) {
      restorer.add(panel, 'workbench-catalog');
      void restorer.restore(tracker, {
        command: CatalogCommandIDs.open,
        args: widget => ({ id: widget.content.tableId }),
        name: widget => String(widget.content.tableId)
      });
    }
  }
};
