import { TranslationBundle } from '@jupyterlab/translation';
import {
  refreshIcon,
  ReactWidget,
  runIcon,
  searchIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  IPanelAction,
  PanelHeader,
  setUpSidebarPanel
} from '../../components/SidebarPanel';
import { connectionsIcon } from '../../connections/icons';
import { CatalogAPI } from '../api';
import { ScanModel } from '../scans';
import { IDLE_SEARCH, ISearchState, SearchController } from '../search';
import { EMPTY_TREE, ITreeState, TreeModel } from '../tree';
import { ITable } from '../tokens';
import { BrowseTree } from './BrowseTree';
import { catalogIcon } from './icons';
import { ScanStatus } from './ScanStatus';
import { SearchBox } from './SearchBox';
import { SearchResults } from './SearchResults';

/**
 * The catalog sidebar: search with facets, else the browse tree; scans
 * started from it show their progress at its top.
 */
export class CatalogPanel extends ReactWidget {
  /**
   * Create the panel; sources load when it is first shown.
   */
  constructor(options: CatalogPanel.IOptions) {
    super();
    this._trans = options.trans;
    this._onOpen = options.onOpen;
    this._onError = options.onError;
    this._onManageConnections = options.onManageConnections ?? null;
    this._onScan = options.onScan;
    this._scans = options.scans;
    setUpSidebarPanel(this, {
      id: 'workbench-catalog',
      icon: catalogIcon,
      caption: this._trans.__('Data Catalog'),
      className: 'jp-WorkbenchCatalog'
    });
    const api = options.api;
    this._search = new SearchController({
      fetch: (request, signal) =>
        api.search(
          request.query,
          request.filters,
          request.offset,
          request.limit,
          signal
        ),
      onChange: state => {
        this._searchState = state;
        this.update();
      },
      onError: (error, query) =>
        this._onError(
          this._trans.__('Searching the catalog for "%1" failed', query),
          error
        )
    });
    this._tree = new TreeModel({
      fetchSources: () => api.sources(),
      fetchTables: request => api.tables(request),
      onChange: state => {
        this._treeState = state;
        this.update();
      },
      onError: (error, what) =>
        this._onError(
          what === 'sources'
            ? this._trans.__('Loading the catalog sources failed')
            : this._trans.__('Loading the catalog of %1 failed', what),
          error
        )
    });
    this._scans.changed.connect(this._onScanChanged, this);
  }

  /**
   * The table last selected in the panel, if any.
   */
  get selectedTable(): ITable | null {
    return this._selected;
  }

  /**
   * The connection of the source (or table) last selected, if any.
   */
  get selectedSource(): string | null {
    return this._selectedSource;
  }

  /**
   * Put the cursor in the search box, optionally with a query.
   */
  focusSearch(query?: string): void {
    if (query !== undefined) {
      this._search.setQuery(query);
      this._externalQuery = {
        query,
        version: this._externalQuery.version + 1
      };
      this.update();
    }
    const input = this.node.querySelector<HTMLInputElement>(
      '.jp-WorkbenchCatalog-search input'
    );
    input?.focus();
    // After React has shown the new query.
    requestAnimationFrame(() => input?.select());
  }

  /**
   * Load the sources again and search again.
   */
  refresh(): void {
    void this._tree.reload();
    this._search.refresh();
  }

  dispose(): void {
    this._scans.changed.disconnect(this._onScanChanged, this);
    this._search.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (!this._loaded) {
      this._loaded = true;
      void this._tree.reload();
    }
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const searching = this._searchState.query.trim().length > 0;
    const actions: IPanelAction[] = [];
    if (this._onManageConnections) {
      actions.push({
        icon: connectionsIcon,
        className: 'jp-WorkbenchCatalog-connections',
        tooltip: trans.__('Manage connections'),
        onClick: this._onManageConnections
      });
    }
    const source = this._selectedSource;
    actions.push(
      {
        icon: runIcon,
        className: 'jp-WorkbenchCatalog-scan',
        tooltip: source
          ? trans.__('Scan %1 into the catalog', source)
          : trans.__('Scan a connection into the catalog'),
        onClick: () => this._onScan(source)
      },
      {
        icon: refreshIcon,
        tooltip: trans.__('Reload the catalog'),
        onClick: () => this.refresh()
      }
    );
    return (
      <div className="jp-WorkbenchCatalog-body">
        <PanelHeader title={trans.__('Data Catalog')} actions={actions} />
        <ScanStatus
          trans={trans}
          scans={this._scanning.map(name => this._scans.progress(name)!)}
        />
        <div className="jp-WorkbenchCatalog-search">
          <searchIcon.react
            className="jp-WorkbenchCatalog-searchIcon"
            tag="span"
            elementSize="normal"
          />
          <SearchBox
            external={this._externalQuery}
            label={trans.__('Search the catalog')}
            placeholder={trans.__('Search tables, columns, labels…')}
            onQuery={query => this._search.setQuery(query)}
          />
        </div>
        {searching ? (
          <SearchResults
            trans={trans}
            search={this._searchState}
            onFilters={filters => this._search.setFilters(filters)}
            onResultsRange={(start, end) =>
              this._search.ensureRange(start, end)
            }
            onSelect={table => this._select(table)}
            onOpen={table => this._open(table)}
          />
        ) : (
          <BrowseTree
            trans={trans}
            tree={this._treeState}
            scanOf={name => this._scans.progress(name)}
            onToggle={(key, expand) => this._tree.toggle(key, expand)}
            onLoadMore={key => void this._tree.loadMore(key)}
            onRetry={owner => this._tree.retry(owner)}
            onSelect={table => this._select(table)}
            onSelectSource={name => {
              if (name !== this._selectedSource) {
                this._selectedSource = name;
                this.update();
              }
            }}
            onOpen={table => this._open(table)}
            onScan={name => this._onScan(name)}
          />
        )}
      </div>
    );
  }

  private _select(table: ITable): void {
    this._selected = table;
  }

  private _open(table: ITable): void {
    this._selected = table;
    this._onOpen(table);
  }

  private _onScanChanged(_: ScanModel, name: string): void {
    const progress = this._scans.progress(name);
    if (!this._scanning.includes(name)) {
      this._scanning = [...this._scanning, name];
    }
    if (progress && !this._scans.isScanning(name)) {
      // Finished: its tables and counts are new; the line stays a while.
      this.refresh();
      const since = progress.since;
      setTimeout(() => {
        if (this._scans.progress(name)?.since === since) {
          this._scanning = this._scanning.filter(n => n !== name);
          this.update();
        }
      }, SCAN_NOTE_MS);
    }
    this.update();
  }

  private _externalQuery = { query: '', version: 0 };
  private _loaded = false;
  private _onError: (what: string, error: unknown) => void;
  private _onManageConnections: (() => void) | null;
  private _onOpen: (table: ITable) => void;
  private _onScan: (connection: string | null) => void;
  private _scanning: string[] = [];
  private _scans: ScanModel;
  private _search: SearchController;
  private _searchState: ISearchState = IDLE_SEARCH;
  private _selected: ITable | null = null;
  private _selectedSource: string | null = null;
  private _trans: TranslationBundle;
  private _tree: TreeModel;
  private _treeState: ITreeState = EMPTY_TREE;
}

/**
 * How long a finished scan's line stays at the top of the panel, in ms.
 */
const SCAN_NOTE_MS = 8000;

/**
 * A namespace for CatalogPanel statics.
 */
export namespace CatalogPanel {
  /**
   * Options to create the panel.
   */
  export interface IOptions {
    api: CatalogAPI;
    /**
     * The scans started from this browser (shared with the commands).
     */
    scans: ScanModel;
    trans: TranslationBundle;
    /**
     * Open a table's view.
     */
    onOpen: (table: ITable) => void;
    /**
     * Scan a connection (null: let the user pick one).
     */
    onScan: (connection: string | null) => void;
    /**
     * Tell people that something failed (`what` says what was attempted).
     */
    onError: (what: string, error: unknown) => void;
    /**
     * Open the connections dialog (no toolbar button without it).
     */
    onManageConnections?: () => void;
  }
}
