import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  caretRightIcon,
  ReactWidget,
  refreshIcon,
  searchIcon,
  tableRowsIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { connectionsIcon } from '../../connections/icons';
import { CatalogAPI } from '../api';
import { facetChips, FacetFilters, hasFilters, toggleFacet } from '../facets';
import { IDLE_SEARCH, ISearchState, SearchController } from '../search';
import {
  EMPTY_TREE,
  flattenTree,
  ITreeState,
  TreeModel,
  TreeRow
} from '../tree';
import { ITable } from '../tokens';
import { catalogIcon } from './icons';
import { VirtualList } from './VirtualList';

/**
 * Row heights in pixels: a result shows two lines, a tree node one.
 */
const RESULT_ROW_HEIGHT = 44;
const TREE_ROW_HEIGHT = 26;

/**
 * The catalog sidebar: search with facets, else the browse tree.
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
    this.id = 'workbench-catalog';
    this.title.icon = catalogIcon;
    this.title.caption = this._trans.__('Data Catalog');
    this.addClass('jp-WorkbenchCatalog');
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
  }

  /**
   * The table last selected in the panel, if any.
   */
  get selectedTable(): ITable | null {
    return this._selected;
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
    return (
      <CatalogBrowser
        trans={this._trans}
        search={this._searchState}
        externalQuery={this._externalQuery}
        tree={this._treeState}
        onQuery={query => this._search.setQuery(query)}
        onFilters={filters => this._search.setFilters(filters)}
        onResultsRange={(start, end) => this._search.ensureRange(start, end)}
        onToggle={(key, expand) => this._tree.toggle(key, expand)}
        onLoadMore={key => void this._tree.loadMore(key)}
        onRetry={owner => this._tree.retry(owner)}
        onRefresh={() => this.refresh()}
        onManageConnections={this._onManageConnections}
        onSelect={table => {
          this._selected = table;
        }}
        onOpen={table => {
          this._selected = table;
          this._onOpen(table);
        }}
      />
    );
  }

  private _externalQuery = { query: '', version: 0 };
  private _loaded = false;
  private _onError: (what: string, error: unknown) => void;
  private _onManageConnections: (() => void) | null;
  private _onOpen: (table: ITable) => void;
  private _search: SearchController;
  private _searchState: ISearchState = IDLE_SEARCH;
  private _selected: ITable | null = null;
  private _trans: TranslationBundle;
  private _tree: TreeModel;
  private _treeState: ITreeState = EMPTY_TREE;
}

/**
 * A namespace for CatalogPanel statics.
 */
export namespace CatalogPanel {
  /**
   * Options to create the panel.
   */
  export interface IOptions {
    api: CatalogAPI;
    trans: TranslationBundle;
    /**
     * Open a table's view.
     */
    onOpen: (table: ITable) => void;
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

interface ICatalogBrowserProps {
  trans: TranslationBundle;
  search: ISearchState;
  externalQuery: { query: string; version: number };
  tree: ITreeState;
  onQuery: (query: string) => void;
  onFilters: (filters: FacetFilters) => void;
  onResultsRange: (start: number, end: number) => void;
  onToggle: (key: string, expand?: boolean) => void;
  onLoadMore: (key: string) => void;
  onRetry: (owner: string) => void;
  onRefresh: () => void;
  onManageConnections: (() => void) | null;
  onSelect: (table: ITable) => void;
  onOpen: (table: ITable) => void;
}

function CatalogBrowser(props: ICatalogBrowserProps): JSX.Element {
  const { trans, search } = props;
  const searching = search.query.trim().length > 0;
  return (
    <div className="jp-WorkbenchCatalog-body">
      <div className="jp-WorkbenchCatalog-header">
        <h2 className="jp-WorkbenchCatalog-title">
          {trans.__('Data Catalog')}
        </h2>
        <div className="jp-WorkbenchCatalog-toolbar">
          {props.onManageConnections && (
            <ToolbarButtonComponent
              icon={connectionsIcon}
              className="jp-WorkbenchCatalog-connections"
              tooltip={trans.__('Manage connections')}
              onClick={props.onManageConnections}
            />
          )}
          <ToolbarButtonComponent
            icon={refreshIcon}
            tooltip={trans.__('Reload the catalog')}
            onClick={props.onRefresh}
          />
        </div>
      </div>
      <div className="jp-WorkbenchCatalog-search">
        <searchIcon.react
          className="jp-WorkbenchCatalog-searchIcon"
          tag="span"
          elementSize="normal"
        />
        <SearchBox
          external={props.externalQuery}
          label={trans.__('Search the catalog')}
          placeholder={trans.__('Search tables, columns, labels…')}
          onQuery={props.onQuery}
        />
      </div>
      {searching ? <SearchResults {...props} /> : <BrowseTree {...props} />}
    </div>
  );
}

/**
 * The search box. It owns its value: the panel re-renders on a later
 * animation frame with the query as it was then, and an input fed back from
 * that would lose the keys typed meanwhile. A query set from outside (the
 * search command) comes with a new `version`.
 */
function SearchBox(props: {
  external: { query: string; version: number };
  label: string;
  placeholder: string;
  onQuery: (query: string) => void;
}): JSX.Element {
  const { external } = props;
  const [value, setValue] = React.useState(external.query);
  React.useEffect(() => {
    if (external.version > 0) {
      setValue(external.query);
    }
  }, [external.version]);
  const change = (next: string) => {
    setValue(next);
    props.onQuery(next);
  };
  return (
    <input
      type="search"
      className="jp-mod-styled"
      value={value}
      placeholder={props.placeholder}
      aria-label={props.label}
      spellCheck={false}
      onChange={event => change(event.currentTarget.value)}
      onKeyDown={event => {
        if (event.key === 'Escape' && value) {
          event.preventDefault();
          change('');
        } else if (event.key === 'ArrowDown') {
          // Into the list, as in the command palette.
          const list = event.currentTarget
            .closest('.jp-WorkbenchCatalog-body')
            ?.querySelector<HTMLElement>('.jp-WorkbenchCatalog-list');
          if (list) {
            event.preventDefault();
            list.focus();
          }
        }
      }}
    />
  );
}

function SearchResults(props: ICatalogBrowserProps): JSX.Element {
  const { trans, search } = props;
  const [active, setActive] = React.useState(-1);
  React.useEffect(() => setActive(-1), [search.answered, search.filters]);
  const chips = facetChips(search.facets, search.total, search.filters);
  let summary: string;
  if (search.status === 'error') {
    summary = trans.__('Search failed: %1', search.error ?? '');
  } else if (search.status === 'loading' && search.answered === '') {
    summary = trans.__('Searching…');
  } else if (search.total === 0 && search.status === 'ready') {
    summary = hasFilters(search.filters)
      ? trans.__('No tables match "%1" with these filters.', search.answered)
      : trans.__('No tables match "%1".', search.answered);
  } else {
    summary = trans._n('%1 table', '%1 tables', search.total);
  }
  return (
    <>
      {chips.length > 0 && (
        <div
          className="jp-WorkbenchCatalog-facets"
          role="group"
          aria-label={trans.__('Filter the results')}
        >
          {chips.map(chip => (
            <button
              key={`${chip.facet}:${chip.value}`}
              type="button"
              className={`jp-WorkbenchCatalog-chip${chip.active ? ' jp-mod-active' : ''}`}
              aria-pressed={chip.active}
              title={
                chip.active
                  ? trans.__('Clear the %1 filter', chip.facet)
                  : trans.__('Only %1 %2', chip.facet, chip.value)
              }
              onClick={() =>
                props.onFilters(
                  toggleFacet(search.filters, chip.facet, chip.value)
                )
              }
            >
              <span className="jp-WorkbenchCatalog-chipFacet">
                {chip.facet}
              </span>
              <span className="jp-WorkbenchCatalog-chipValue">
                {chip.value}
              </span>
              <span className="jp-WorkbenchCatalog-chipCount">
                {chip.count}
              </span>
            </button>
          ))}
        </div>
      )}
      <div
        className="jp-WorkbenchCatalog-summary"
        role="status"
        aria-live="polite"
        data-status={search.status}
        data-answered={search.answered}
      >
        {summary}
      </div>
      <VirtualList
        className="jp-WorkbenchCatalog-results"
        role="listbox"
        label={trans.__('Search results')}
        rowCount={search.hits.length}
        rowHeight={RESULT_ROW_HEIGHT}
        rowKey={index => {
          const hit = search.hits[index];
          return hit ? `t${hit.table.id}` : `i${index}`;
        }}
        activeIndex={active}
        onActiveChange={index => {
          setActive(index);
          const hit = search.hits[index];
          if (hit) {
            props.onSelect(hit.table);
          }
        }}
        onActivate={index => {
          const hit = search.hits[index];
          if (hit) {
            props.onOpen(hit.table);
          }
        }}
        onRangeChange={range => props.onResultsRange(range.start, range.end)}
        renderRow={index => {
          const hit = search.hits[index];
          if (!hit) {
            return (
              <div className="jp-WorkbenchCatalog-placeholder">
                {trans.__('Loading…')}
              </div>
            );
          }
          const { table } = hit;
          const detail = [
            table.label,
            hit.matched_columns.length
              ? trans.__('columns: %1', hit.matched_columns.join(', '))
              : table.description
          ]
            .filter(Boolean)
            .join(' · ');
          return (
            <div
              className="jp-WorkbenchCatalog-result"
              data-table={table.name}
              title={`${table.connection} · ${table.schema}.${table.name}`}
            >
              <div className="jp-WorkbenchCatalog-resultName">
                <tableRowsIcon.react tag="span" elementSize="normal" />
                <span className="jp-WorkbenchCatalog-name">{table.name}</span>
                {table.certified && (
                  <span
                    className="jp-WorkbenchCatalog-certified"
                    title={trans.__('Certified')}
                  >
                    ✓
                  </span>
                )}
                <span className="jp-WorkbenchCatalog-where">
                  {table.connection} · {table.schema}
                </span>
              </div>
              <div className="jp-WorkbenchCatalog-resultDetail">{detail}</div>
            </div>
          );
        }}
      />
    </>
  );
}

function BrowseTree(props: ICatalogBrowserProps): JSX.Element {
  const { trans } = props;
  const rows = React.useMemo(() => flattenTree(props.tree), [props.tree]);
  const [activeKey, setActiveKey] = React.useState<string | null>(null);
  const active = activeKey ? rows.findIndex(r => r.key === activeKey) : -1;

  const parentIndex = (index: number): number => {
    const depth = rows[index].depth;
    for (let i = index - 1; i >= 0; i--) {
      if (rows[i].depth < depth) {
        return i;
      }
    }
    return -1;
  };

  const activate = (row: TreeRow) => {
    switch (row.kind) {
      case 'source':
      case 'schema':
        props.onToggle(row.key);
        break;
      case 'table':
        props.onOpen(row.table);
        break;
      case 'status':
        if (row.status === 'error') {
          props.onRetry(row.owner);
        } else if (row.status === 'more') {
          props.onLoadMore(row.owner);
        }
        break;
    }
  };

  return (
    <VirtualList
      className="jp-WorkbenchCatalog-tree"
      role="tree"
      label={trans.__('Catalog sources')}
      rowCount={rows.length}
      rowHeight={TREE_ROW_HEIGHT}
      rowKey={index => rows[index].key}
      activeIndex={active}
      onActiveChange={index => {
        const row = rows[index];
        setActiveKey(row.key);
        if (row.kind === 'table') {
          props.onSelect(row.table);
        }
      }}
      onActivate={index => activate(rows[index])}
      onRowKey={(key, index) => {
        const row = rows[index];
        const expandable = row.kind === 'source' || row.kind === 'schema';
        if (key === 'ArrowRight' && expandable) {
          if (!row.expanded) {
            props.onToggle(row.key, true);
          } else if (rows[index + 1]) {
            setActiveKey(rows[index + 1].key);
          }
          return true;
        }
        if (key === 'ArrowLeft') {
          if (expandable && row.expanded) {
            props.onToggle(row.key, false);
          } else {
            const parent = parentIndex(index);
            if (parent >= 0) {
              setActiveKey(rows[parent].key);
            }
          }
          return true;
        }
        return false;
      }}
      onRangeChange={range => {
        // A "load more" row scrolled into view loads the next page.
        for (let i = range.start; i < range.end; i++) {
          const row = rows[i];
          if (row && row.kind === 'status' && row.status === 'more') {
            props.onLoadMore(row.owner);
          }
        }
      }}
      rowAria={index => {
        const row = rows[index];
        const aria: { [key: string]: string | number | boolean } = {
          'aria-level': row.depth + 1
        };
        if (row.kind === 'source' || row.kind === 'schema') {
          aria['aria-expanded'] = row.expanded;
        }
        return aria;
      }}
      renderRow={index => <TreeNode row={rows[index]} trans={trans} />}
    />
  );
}

function TreeNode(props: {
  row: TreeRow;
  trans: TranslationBundle;
}): JSX.Element {
  const { row, trans } = props;
  const indent = { paddingLeft: `${8 + row.depth * 14}px` };
  const caret = (expanded: boolean) => {
    const Icon = expanded ? caretDownIcon : caretRightIcon;
    return (
      <Icon.react
        tag="span"
        className="jp-WorkbenchCatalog-caret"
        elementSize="normal"
      />
    );
  };
  switch (row.kind) {
    case 'source':
      return (
        <div className="jp-WorkbenchCatalog-node" style={indent}>
          {caret(row.expanded)}
          <span className="jp-WorkbenchCatalog-name">
            {row.source.connection}
          </span>
          <span className="jp-WorkbenchCatalog-where">
            {row.source.kind} · {row.source.tables}
          </span>
        </div>
      );
    case 'schema':
      return (
        <div className="jp-WorkbenchCatalog-node" style={indent}>
          {caret(row.expanded)}
          <span className="jp-WorkbenchCatalog-name">{row.schema.name}</span>
          <span className="jp-WorkbenchCatalog-where">{row.schema.tables}</span>
        </div>
      );
    case 'table':
      return (
        <div
          className="jp-WorkbenchCatalog-node"
          style={indent}
          data-table={row.table.name}
          title={row.table.label ?? row.table.name}
        >
          <tableRowsIcon.react tag="span" elementSize="normal" />
          <span className="jp-WorkbenchCatalog-name">{row.table.name}</span>
          {row.table.label && (
            <span className="jp-WorkbenchCatalog-where">{row.table.label}</span>
          )}
        </div>
      );
    case 'status': {
      let text: string;
      switch (row.status) {
        case 'loading':
          text = trans.__('Loading…');
          break;
        case 'error':
          text = trans.__('%1 (press Enter to retry)', row.error ?? '');
          break;
        case 'more':
          text = trans.__('Load more (%1 of %2)', row.loaded, row.total);
          break;
        default:
          text =
            row.owner === 'sources'
              ? trans.__(
                  'No connections yet: add one, then scan it into the catalog.'
                )
              : row.depth === 1
                ? trans.__('No tables in the catalog yet: scan the connection.')
                : trans.__('No tables.');
      }
      return (
        <div
          className={`jp-WorkbenchCatalog-node jp-WorkbenchCatalog-status jp-mod-${row.status}`}
          style={indent}
          title={row.status === 'error' ? row.error : undefined}
        >
          {text}
        </div>
      );
    }
  }
}
