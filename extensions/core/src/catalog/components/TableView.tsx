import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { APIError } from '../../request';
import { CatalogAPI } from '../api';
import { datasetOf, lineageRows } from '../lineage';
import {
  ILineageGraph,
  IPreview,
  ITable,
  ITableDetail,
  ITablePatch,
  ITableVersion,
  LineageDirection
} from '../tokens';
import { lastWrite, VERSIONS_PAGE, withFreshness } from '../versions';
import { ColumnsGrid } from './ColumnsGrid';
import { HistoryList } from './HistoryList';
import { ILineage, LineageLists } from './LineageLists';
import { PreviewGrid } from './PreviewGrid';
import { TableHeader } from './TableHeader';
import {
  ITableActions,
  ITableEditor,
  Loadable,
  LoadState,
  TableTab,
  tabsOf
} from './tableParts';
import { VersionsList } from './VersionsList';

export type { ITableActions, TableTab };
export { tabsOf };

/**
 * Rows a preview asks for.
 */
export const PREVIEW_ROWS = 100;

/**
 * How often an open lake table asks whether it was written, in ms: a cdc
 * batch commits every second or so, and the read is one row on the server.
 */
export const FRESHNESS_INTERVAL = 2000;

/**
 * One catalog table: details, columns, preview, versions (of a lake table),
 * lineage and history.
 */
export class TableView extends ReactWidget implements ITableEditor {
  /**
   * Create a view of table `tableId`; it loads at once.
   */
  constructor(options: TableView.IOptions) {
    super();
    this._api = options.api;
    this._trans = options.trans;
    this._actions = options.actions;
    this.tableId = options.tableId;
    this.addClass('jp-WorkbenchCatalogTable');
    this._summary = options.table ?? null;
    // Short polling of a cheap read while the table is shown (see the server's
    // handlers/catalog_live.py for why not a push stream): the version and
    // last write follow each commit without a reload.
    this._freshness = new Poll({
      auto: false,
      factory: () => this._checkFreshness(),
      frequency: {
        interval: FRESHNESS_INTERVAL,
        backoff: true,
        max: 60000
      },
      name: '@workbench/catalog:freshness',
      standby: () =>
        !this.isVisible ||
        this._detail.status !== 'ready' ||
        lastWrite(this._detail.value) === null
    });
    void this._freshness.start();
    void this.reload();
  }

  dispose(): void {
    this._freshness.dispose();
    super.dispose();
  }

  /**
   * Catalog id of the table shown.
   */
  readonly tableId: number;

  /**
   * The table as last loaded (without columns until the detail arrived).
   */
  get table(): ITable | null {
    return this._detail.status === 'ready' ? this._detail.value : this._summary;
  }

  /**
   * Emitted-free hook for the title: called after every load.
   */
  onTableLoaded: ((table: ITableDetail) => void) | null = null;

  /**
   * Show a tab (loading its data the first time).
   */
  showTab(tab: TableTab): void {
    this._tab = tab;
    if (tab === 'preview' && this._preview.status === 'idle') {
      void this.loadPreview();
    }
    if (tab === 'lineage' && this._lineage.status === 'idle') {
      void this.loadLineage();
    }
    if (tab === 'versions' && this._versions.status === 'idle') {
      void this.loadVersions();
    }
    this.update();
  }

  /**
   * Preview the table as of `version` (null: its current rows).
   */
  previewVersion(version: number | null): void {
    this._previewVersion = version;
    this._tab = 'preview';
    void this.loadPreview();
  }

  /**
   * The version the preview shows; null for the current rows.
   */
  get previewedVersion(): number | null {
    return this._previewVersion;
  }

  /**
   * Load the newest versions again, or (`older`) the page after those listed.
   */
  async loadVersions(older: boolean = false): Promise<void> {
    const listed =
      older && this._versions.status === 'ready' ? this._versions.value : [];
    const before = listed.length ? listed[listed.length - 1].version : null;
    if (!older) {
      this._versions = { status: 'loading' };
      this.update();
    }
    try {
      const page = await this._api.versions(
        this.tableId,
        VERSIONS_PAGE,
        before
      );
      this._versions = { status: 'ready', value: [...listed, ...page] };
      this._moreVersions =
        page.length === VERSIONS_PAGE && page[page.length - 1].version > 0;
    } catch (error) {
      this._versions = {
        status: 'error',
        error: this._actions.error(
          this._trans.__('Loading the versions of %1 failed', this._name()),
          error
        )
      };
    }
    this.update();
  }

  /**
   * Load the table's detail again.
   */
  async reload(): Promise<void> {
    this._detail = { status: 'loading' };
    this.update();
    try {
      const detail = await this._api.table(this.tableId);
      this._setDetail(detail);
    } catch (error) {
      const message = this._actions.error(
        this._trans.__('Loading catalog table %1 failed', this.tableId),
        error
      );
      this._detail = { status: 'error', error: message };
      this.update();
    }
  }

  /**
   * Load the preview rows again.
   */
  async loadPreview(): Promise<void> {
    this._preview = { status: 'loading' };
    this.update();
    const version = this._previewVersion;
    try {
      const value = await this._api.preview(
        this.tableId,
        PREVIEW_ROWS,
        version
      );
      if (version !== this._previewVersion) {
        return; // another version was asked for meanwhile
      }
      this._preview = { status: 'ready', value };
    } catch (error) {
      if (version !== this._previewVersion) {
        return;
      }
      this._preview = {
        status: 'error',
        error: this._actions.error(
          version === null
            ? this._trans.__('Previewing %1 failed', this._name())
            : this._trans.__(
                'Previewing %1 as of version %2 failed',
                this._name(),
                version
              ),
          error
        )
      };
    }
    this.update();
  }

  /**
   * Load the lineage up- and downstream again.
   */
  async loadLineage(): Promise<void> {
    const table = this.table;
    if (!table) {
      return;
    }
    this._lineage = { status: 'loading' };
    this.update();
    const dataset = datasetOf(table);
    const walk = async (
      direction: LineageDirection
    ): Promise<ILineageGraph | null> => {
      try {
        return await this._api.lineage(
          dataset.namespace,
          dataset.name,
          direction
        );
      } catch (error) {
        // No lineage recorded for this table (yet) is an answer, not a failure.
        if (error instanceof APIError && error.status === 404) {
          return null;
        }
        throw error;
      }
    };
    try {
      const [upstream, downstream] = await Promise.all([
        walk('upstream'),
        walk('downstream')
      ]);
      this._lineage = {
        status: 'ready',
        value: {
          upstream: upstream ? lineageRows(upstream) : [],
          downstream: downstream ? lineageRows(downstream) : [],
          graphs: { upstream, downstream }
        }
      };
    } catch (error) {
      this._lineage = {
        status: 'error',
        error: this._actions.error(
          this._trans.__('Loading the lineage of %1 failed', this._name()),
          error
        )
      };
    }
    this.update();
  }

  /**
   * Save a change of the table; resolves false (after notifying) on failure.
   */
  async saveTable(patch: ITablePatch): Promise<boolean> {
    try {
      this._setDetail(await this._api.editTable(this.tableId, patch));
      return true;
    } catch (error) {
      this._actions.error(
        this._trans.__('Saving %1 failed', this._name()),
        error
      );
      return false;
    }
  }

  /**
   * Save a change of a column; resolves false (after notifying) on failure.
   */
  async saveColumn(
    column: string,
    patch: { description?: string | null; tags?: string[] }
  ): Promise<boolean> {
    try {
      this._setDetail(await this._api.editColumn(this.tableId, column, patch));
      return true;
    } catch (error) {
      this._actions.error(
        this._trans.__('Saving column %1 of %2 failed', column, this._name()),
        error
      );
      return false;
    }
  }

  protected render(): JSX.Element {
    return (
      <TableViewBody
        view={this}
        trans={this._trans}
        actions={this._actions}
        detail={this._detail}
        summary={this._summary}
        preview={this._preview}
        lineage={this._lineage}
        versions={this._versions}
        moreVersions={this._moreVersions}
        tab={this._tab}
      />
    );
  }

  private async _checkFreshness(): Promise<void> {
    if (this._detail.status !== 'ready') {
      return;
    }
    const fresh = await this._api.freshness(this.tableId);
    if (this._detail.status !== 'ready') {
      return; // reloaded meanwhile
    }
    const updated = withFreshness(this._detail.value, fresh);
    if (updated) {
      this._setDetail(updated);
    }
  }

  private _setDetail(detail: ITableDetail): void {
    this._detail = { status: 'ready', value: detail };
    this._summary = detail;
    this.onTableLoaded?.(detail);
    this.update();
  }

  private _name(): string {
    const table = this.table;
    return table ? `${table.schema}.${table.name}` : String(this.tableId);
  }

  private _actions: ITableActions;
  private _api: CatalogAPI;
  private _detail: Loadable<ITableDetail> = { status: 'idle' };
  private _freshness: Poll;
  private _lineage: Loadable<ILineage> = { status: 'idle' };
  private _moreVersions = false;
  private _preview: Loadable<IPreview> = { status: 'idle' };
  private _previewVersion: number | null = null;
  private _summary: ITable | null;
  private _tab: TableTab = 'columns';
  private _trans: TranslationBundle;
  private _versions: Loadable<ITableVersion[]> = { status: 'idle' };
}

/**
 * A namespace for TableView statics.
 */
export namespace TableView {
  /**
   * Options to create a table view.
   */
  export interface IOptions {
    api: CatalogAPI;
    tableId: number;
    /**
     * What is already known of the table (from a search or the tree).
     */
    table?: ITable | null;
    trans: TranslationBundle;
    actions: ITableActions;
  }
}

interface ITableViewBodyProps {
  view: TableView;
  trans: TranslationBundle;
  actions: ITableActions;
  detail: Loadable<ITableDetail>;
  summary: ITable | null;
  preview: Loadable<IPreview>;
  lineage: Loadable<ILineage>;
  versions: Loadable<ITableVersion[]>;
  moreVersions: boolean;
  tab: TableTab;
}

function TableViewBody(props: ITableViewBodyProps): JSX.Element {
  const { trans, view, detail, summary, tab } = props;
  const table = detail.status === 'ready' ? detail.value : summary;
  if (!table) {
    return (
      <div className="jp-WorkbenchCatalogTable-message" role="status">
        {detail.status === 'error'
          ? trans.__('This table could not be loaded: %1', detail.error)
          : trans.__('Loading…')}
      </div>
    );
  }
  const tabs = tabsOf(table);
  const tabLabels: { [tab in TableTab]: string } = {
    columns: trans.__('Columns'),
    preview: trans.__('Preview'),
    versions: trans.__('Versions'),
    lineage: trans.__('Lineage'),
    history: trans.__('History')
  };
  return (
    <div className="jp-WorkbenchCatalogTable-body">
      <TableHeader
        table={table}
        trans={trans}
        editor={view}
        actions={props.actions}
        onShowLineage={() => view.showTab('lineage')}
        onReload={() => {
          void view.reload();
          if (props.preview.status !== 'idle') {
            void view.loadPreview();
          }
          if (props.lineage.status !== 'idle') {
            void view.loadLineage();
          }
          if (props.versions.status !== 'idle') {
            void view.loadVersions();
          }
        }}
      />
      <div
        className="jp-WorkbenchCatalogTable-tabs"
        role="tablist"
        aria-label={trans.__('Table details')}
        onKeyDown={event => {
          const step =
            event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
          if (step) {
            event.preventDefault();
            const next =
              tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
            view.showTab(next);
            requestAnimationFrame(() =>
              view.node
                .querySelector<HTMLElement>(`[data-tab="${next}"]`)
                ?.focus()
            );
          }
        }}
      >
        {tabs.map(name => (
          <button
            key={name}
            type="button"
            role="tab"
            id={`${view.id}-tab-${name}`}
            data-tab={name}
            aria-selected={tab === name}
            aria-controls={`${view.id}-panel-${name}`}
            tabIndex={tab === name ? 0 : -1}
            className={`jp-WorkbenchCatalogTable-tab${tab === name ? ' jp-mod-current' : ''}`}
            onClick={() => view.showTab(name)}
          >
            {tabLabels[name]}
          </button>
        ))}
      </div>
      <div
        className="jp-WorkbenchCatalogTable-panel"
        role="tabpanel"
        id={`${view.id}-panel-${tab}`}
        aria-labelledby={`${view.id}-tab-${tab}`}
        data-panel={tab}
      >
        {tab === 'columns' &&
          (detail.status === 'ready' ? (
            <ColumnsGrid table={detail.value} editor={view} trans={trans} />
          ) : (
            <LoadState state={detail} trans={trans} />
          ))}
        {tab === 'preview' && (
          <PreviewGrid state={props.preview} editor={view} trans={trans} />
        )}
        {tab === 'versions' && (
          <VersionsList
            state={props.versions}
            more={props.moreVersions}
            shown={view.previewedVersion}
            trans={trans}
            onPreview={version => view.previewVersion(version)}
            onMore={() => void view.loadVersions(true)}
            onRetry={() => void view.loadVersions()}
          />
        )}
        {tab === 'lineage' && (
          <LineageLists
            state={props.lineage}
            table={table}
            trans={trans}
            markerId={`jp-WorkbenchLineage-arrow-${table.id}`}
            onOpen={props.actions.openDataset}
            onOpenTable={props.actions.openTable}
          />
        )}
        {tab === 'history' &&
          (detail.status === 'ready' ? (
            <HistoryList table={detail.value} trans={trans} />
          ) : (
            <LoadState state={detail} trans={trans} />
          ))}
      </div>
    </div>
  );
}
