import { TranslationBundle } from '@jupyterlab/translation';
import {
  copyIcon,
  notebookIcon,
  ReactWidget,
  refreshIcon,
  shareIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { APIError } from '../../request';
import { CatalogAPI } from '../api';
import {
  formatCell,
  formatRowEstimate,
  formatTimestamp,
  parseTags
} from '../format';
import {
  datasetLabel,
  datasetOf,
  ILineageRow,
  lineageLayout,
  lineageRows
} from '../lineage';
import {
  IColumn,
  IDatasetRef,
  ILineageGraph,
  IPreview,
  ITable,
  ITableDetail,
  ITablePatch,
  LineageDirection
} from '../tokens';
import { InlineEdit } from './InlineEdit';
import { LineageGraph } from './LineageGraph';

/**
 * Tabs of a table view.
 */
export type TableTab = 'columns' | 'preview' | 'lineage' | 'history';

const TABS: TableTab[] = ['columns', 'preview', 'lineage', 'history'];

/**
 * Rows a preview asks for.
 */
export const PREVIEW_ROWS = 100;

/**
 * The lineage of a table: the graphs (null when nothing is recorded) and
 * their datasets as lists.
 */
interface ILineage {
  upstream: ILineageRow[];
  downstream: ILineageRow[];
  graphs: {
    upstream: ILineageGraph | null;
    downstream: ILineageGraph | null;
  };
}

type Loadable<T> =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'ready'; value: T }
  | { status: 'error'; error: string };

/**
 * What a table view can ask the application to do.
 */
export interface ITableActions {
  insertQuery: (table: ITable) => void;
  copyName: (table: ITable) => void;
  openDataset: (dataset: IDatasetRef) => void;
  /**
   * Open the view of a catalog table.
   */
  openTable: (tableId: number) => void;
  /**
   * Report a failure in the notification area; returns the message shown.
   */
  error: (what: string, error: unknown) => string;
}

/**
 * One catalog table: details, columns, preview, lineage and history.
 */
export class TableView extends ReactWidget {
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
    void this.reload();
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
    try {
      const value = await this._api.preview(this.tableId, PREVIEW_ROWS);
      this._preview = { status: 'ready', value };
    } catch (error) {
      this._preview = {
        status: 'error',
        error: this._actions.error(
          this._trans.__('Previewing %1 failed', this._name()),
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
        tab={this._tab}
      />
    );
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
  private _lineage: Loadable<ILineage> = { status: 'idle' };
  private _preview: Loadable<IPreview> = { status: 'idle' };
  private _summary: ITable | null;
  private _tab: TableTab = 'columns';
  private _trans: TranslationBundle;
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
  const tabLabels: { [tab in TableTab]: string } = {
    columns: trans.__('Columns'),
    preview: trans.__('Preview'),
    lineage: trans.__('Lineage'),
    history: trans.__('History')
  };
  const tags = table.tags;
  return (
    <div className="jp-WorkbenchCatalogTable-body">
      <header className="jp-WorkbenchCatalogTable-header">
        <div className="jp-WorkbenchCatalogTable-titleRow">
          <h1 className="jp-WorkbenchCatalogTable-name">
            <span className="jp-WorkbenchCatalogTable-schema">
              {table.schema}.
            </span>
            {table.name}
          </h1>
          {table.label && (
            <span className="jp-WorkbenchCatalogTable-label">
              {table.label}
            </span>
          )}
          <label className="jp-WorkbenchCatalogTable-certified">
            <input
              type="checkbox"
              checked={table.certified}
              onChange={event =>
                void view.saveTable({ certified: event.currentTarget.checked })
              }
            />
            {trans.__('Certified')}
          </label>
        </div>
        <dl className="jp-WorkbenchCatalogTable-facts">
          <dt>{trans.__('Connection')}</dt>
          <dd data-fact="connection">{table.connection}</dd>
          <dt>{trans.__('Kind')}</dt>
          <dd data-fact="kind">{table.kind}</dd>
          <dt>{trans.__('Rows')}</dt>
          <dd data-fact="rows">
            {formatRowEstimate(table.row_estimate) || trans.__('unknown')}
          </dd>
          {table.odoo_model && (
            <>
              <dt>{trans.__('Odoo model')}</dt>
              <dd data-fact="odoo-model">{table.odoo_model}</dd>
            </>
          )}
          {table.steward && (
            <>
              <dt>{trans.__('Steward')}</dt>
              <dd data-fact="steward">{table.steward}</dd>
            </>
          )}
        </dl>
        <div className="jp-WorkbenchCatalogTable-description">
          <InlineEdit
            value={table.description ?? ''}
            placeholder={trans.__('Add a description…')}
            label={trans.__('description of %1', table.name)}
            multiline
            trans={trans}
            onSave={value =>
              view.saveTable({ description: value.trim() ? value : null })
            }
          />
          {table.comment && table.comment !== table.label && (
            <p className="jp-WorkbenchCatalogTable-comment">{table.comment}</p>
          )}
        </div>
        <div className="jp-WorkbenchCatalogTable-tags">
          <span className="jp-WorkbenchCatalogTable-tagsLabel">
            {trans.__('Tags')}
          </span>
          <TagList tags={table.auto_tags} auto trans={trans} />
          <InlineEdit
            className="jp-WorkbenchCatalogTable-tagEditor"
            value={tags.join(', ')}
            placeholder={trans.__('Add tags…')}
            label={trans.__('tags of %1', table.name)}
            trans={trans}
            onSave={value => view.saveTable({ tags: parseTags(value) })}
          />
        </div>
        <div
          className="jp-WorkbenchCatalogTable-actions"
          role="toolbar"
          aria-label={trans.__('Table actions')}
        >
          <ActionButton
            icon={<notebookIcon.react tag="span" elementSize="normal" />}
            label={trans.__('Insert query into notebook')}
            onClick={() => props.actions.insertQuery(table)}
          />
          <ActionButton
            icon={<copyIcon.react tag="span" elementSize="normal" />}
            label={trans.__('Copy name')}
            onClick={() => props.actions.copyName(table)}
          />
          <ActionButton
            icon={<shareIcon.react tag="span" elementSize="normal" />}
            label={trans.__('Open lineage')}
            onClick={() => view.showTab('lineage')}
          />
          <ActionButton
            icon={<refreshIcon.react tag="span" elementSize="normal" />}
            label={trans.__('Reload')}
            onClick={() => {
              void view.reload();
              if (props.preview.status !== 'idle') {
                void view.loadPreview();
              }
              if (props.lineage.status !== 'idle') {
                void view.loadLineage();
              }
            }}
          />
        </div>
      </header>
      <div
        className="jp-WorkbenchCatalogTable-tabs"
        role="tablist"
        aria-label={trans.__('Table details')}
        onKeyDown={event => {
          const step =
            event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
          if (step) {
            event.preventDefault();
            const next = TABS[(TABS.indexOf(tab) + step + TABS.length) % 4];
            view.showTab(next);
            requestAnimationFrame(() =>
              view.node
                .querySelector<HTMLElement>(`[data-tab="${next}"]`)
                ?.focus()
            );
          }
        }}
      >
        {TABS.map(name => (
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
            <ColumnsGrid table={detail.value} view={view} trans={trans} />
          ) : (
            <LoadState state={detail} trans={trans} />
          ))}
        {tab === 'preview' && (
          <PreviewGrid state={props.preview} view={view} trans={trans} />
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

function ActionButton(props: {
  icon: JSX.Element;
  label: string;
  onClick: () => void;
}): JSX.Element {
  return (
    <button
      type="button"
      className="jp-WorkbenchCatalogTable-action"
      onClick={props.onClick}
    >
      {props.icon}
      <span>{props.label}</span>
    </button>
  );
}

function LoadState(props: {
  state: Loadable<unknown>;
  trans: TranslationBundle;
}): JSX.Element {
  const { state, trans } = props;
  return (
    <div className="jp-WorkbenchCatalogTable-message" role="status">
      {state.status === 'error'
        ? trans.__('Failed: %1', state.error)
        : trans.__('Loading…')}
    </div>
  );
}

function TagList(props: {
  tags: string[];
  auto?: boolean;
  trans: TranslationBundle;
}): JSX.Element | null {
  if (props.tags.length === 0) {
    return null;
  }
  return (
    <span className="jp-WorkbenchCatalogTable-tagList">
      {props.tags.map(tag => (
        <span
          key={tag}
          className={`jp-WorkbenchCatalogTable-tag${tag === 'pii' ? ' jp-mod-pii' : ''}${
            props.auto ? ' jp-mod-auto' : ''
          }`}
          title={
            props.auto
              ? props.trans.__('Set by the catalog scan')
              : props.trans.__('Tag')
          }
        >
          {tag}
        </span>
      ))}
    </span>
  );
}

function ColumnsGrid(props: {
  table: ITableDetail;
  view: TableView;
  trans: TranslationBundle;
}): JSX.Element {
  const { table, view, trans } = props;
  return (
    <div className="jp-WorkbenchCatalogTable-gridWrap">
      <table className="jp-WorkbenchCatalogTable-grid jp-WorkbenchCatalogTable-columns">
        <thead>
          <tr>
            <th scope="col">{trans.__('Column')}</th>
            <th scope="col">{trans.__('Type')}</th>
            <th scope="col">{trans.__('Nullable')}</th>
            <th scope="col">{trans.__('Odoo label')}</th>
            <th scope="col">{trans.__('Description')}</th>
            <th scope="col">{trans.__('Tags')}</th>
          </tr>
        </thead>
        <tbody>
          {table.columns.map(column => (
            <ColumnRow
              key={column.name}
              column={column}
              view={view}
              trans={trans}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ColumnRow(props: {
  column: IColumn;
  view: TableView;
  trans: TranslationBundle;
}): JSX.Element {
  const { column, view, trans } = props;
  const dropped = column.dropped_at !== null;
  return (
    <tr
      data-column={column.name}
      className={dropped ? 'jp-mod-dropped' : undefined}
    >
      <th scope="row" className="jp-WorkbenchCatalogTable-columnName">
        {column.name}
        {column.primary_key && (
          <span
            className="jp-WorkbenchCatalogTable-badge"
            title={trans.__('Primary key')}
          >
            {trans.__('PK')}
          </span>
        )}
        {column.references && (
          <span
            className="jp-WorkbenchCatalogTable-badge"
            title={trans.__('References %1', column.references)}
          >
            {trans.__('FK')}
          </span>
        )}
        {dropped && (
          <span className="jp-WorkbenchCatalogTable-badge">
            {trans.__('dropped')}
          </span>
        )}
      </th>
      <td className="jp-WorkbenchCatalogTable-type">
        {column.data_type}
        {column.odoo_type && column.odoo_type !== column.data_type && (
          <span className="jp-WorkbenchCatalogTable-muted">
            {' '}
            ({column.odoo_type}
            {column.relation ? ` → ${column.relation}` : ''})
          </span>
        )}
      </td>
      <td>{column.nullable ? trans.__('yes') : trans.__('no')}</td>
      <td title={column.help ?? undefined}>{column.label ?? ''}</td>
      <td className="jp-WorkbenchCatalogTable-columnDescription">
        <InlineEdit
          value={column.description ?? ''}
          placeholder={
            column.comment && column.comment !== column.label
              ? column.comment
              : trans.__('Add…')
          }
          label={trans.__('description of column %1', column.name)}
          trans={trans}
          onSave={value =>
            view.saveColumn(column.name, {
              description: value.trim() ? value : null
            })
          }
        />
      </td>
      <td className="jp-WorkbenchCatalogTable-columnTags">
        <TagList tags={column.auto_tags} auto trans={trans} />
        <InlineEdit
          value={column.tags.join(', ')}
          placeholder={trans.__('Add…')}
          label={trans.__('tags of column %1', column.name)}
          trans={trans}
          onSave={value =>
            view.saveColumn(column.name, { tags: parseTags(value) })
          }
        />
      </td>
    </tr>
  );
}

function PreviewGrid(props: {
  state: Loadable<IPreview>;
  view: TableView;
  trans: TranslationBundle;
}): JSX.Element {
  const { state, view, trans } = props;
  if (state.status !== 'ready') {
    return (
      <div className="jp-WorkbenchCatalogTable-message" role="status">
        {state.status === 'error' ? (
          <>
            {trans.__('Failed: %1', state.error)}{' '}
            <button
              type="button"
              className="jp-mod-styled"
              onClick={() => void view.loadPreview()}
            >
              {trans.__('Retry')}
            </button>
          </>
        ) : (
          trans.__('Loading preview…')
        )}
      </div>
    );
  }
  const preview = state.value;
  return (
    <>
      <div className="jp-WorkbenchCatalogTable-notes" role="note">
        <span>
          {trans._n('%1 row', '%1 rows', preview.rows.length)} ·{' '}
          {trans.__('%1 ms', preview.elapsed_ms)}
        </span>
        {preview.notes.map(note => (
          <span key={note} className="jp-WorkbenchCatalogTable-note">
            {note}
          </span>
        ))}
      </div>
      <div className="jp-WorkbenchCatalogTable-gridWrap">
        <table className="jp-WorkbenchCatalogTable-grid jp-WorkbenchCatalogTable-preview">
          <thead>
            <tr>
              {preview.columns.map(column => (
                <th
                  key={column.name}
                  scope="col"
                  title={
                    column.masked
                      ? trans.__('%1 (masked: tagged pii)', column.type)
                      : column.type
                  }
                  className={column.masked ? 'jp-mod-masked' : undefined}
                >
                  {column.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((row, i) => (
              <tr key={i}>
                {row.map((value, j) => (
                  <td
                    key={j}
                    className={value === null ? 'jp-mod-null' : undefined}
                  >
                    {formatCell(value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function LineageLists(props: {
  state: Loadable<ILineage>;
  table: ITable;
  trans: TranslationBundle;
  markerId: string;
  onOpen: (dataset: IDatasetRef) => void;
  onOpenTable: (tableId: number) => void;
}): JSX.Element {
  const { state, table, trans } = props;
  const layout = React.useMemo(
    () =>
      state.status === 'ready'
        ? lineageLayout(
            { ...datasetOf(table), table_id: table.id },
            state.value.graphs.upstream,
            state.value.graphs.downstream
          )
        : null,
    [state, table.id]
  );
  if (state.status !== 'ready') {
    return <LoadState state={state} trans={trans} />;
  }
  const section = (title: string, rows: ILineageRow[], empty: string) => (
    <section className="jp-WorkbenchCatalogTable-lineage">
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p className="jp-WorkbenchCatalogTable-muted">{empty}</p>
      ) : (
        <ul>
          {rows.map(row => (
            <li key={datasetLabel(row.dataset)}>
              <button
                type="button"
                className="jp-WorkbenchCatalogTable-link"
                title={trans.__('Open in the catalog')}
                onClick={() => props.onOpen(row.dataset)}
              >
                {datasetLabel(row.dataset)}
              </button>
              <span className="jp-WorkbenchCatalogTable-muted">
                {' '}
                {trans._n('%1 step', '%1 steps', row.distance)} ·{' '}
                {row.jobs.join(', ')}
              </span>
              {row.columns.length > 0 && (
                <div className="jp-WorkbenchCatalogTable-muted">
                  {row.columns.join('; ')}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
  return (
    <div className="jp-WorkbenchCatalogTable-lineageLists">
      {layout && layout.nodes.length > 1 && (
        <LineageGraph
          layout={layout}
          trans={trans}
          markerId={props.markerId}
          onOpenTable={props.onOpenTable}
        />
      )}
      {section(
        trans.__('Upstream (read by what wrote this table)'),
        state.value.upstream,
        trans.__('Nothing upstream recorded.')
      )}
      {section(
        trans.__('Downstream (written from this table)'),
        state.value.downstream,
        trans.__('Nothing downstream recorded.')
      )}
      <p className="jp-WorkbenchCatalogTable-muted">
        {trans.__(
          'Lineage comes from SQL that writes data (CREATE … AS, INSERT … SELECT, COPY) run with %sql in notebooks and pipeline steps, and from the inputs and outputs pipeline steps declare.'
        )}
      </p>
    </div>
  );
}

function HistoryList(props: {
  table: ITableDetail;
  trans: TranslationBundle;
}): JSX.Element {
  const { table, trans } = props;
  if (table.history.length === 0) {
    return (
      <p className="jp-WorkbenchCatalogTable-message">
        {trans.__(
          'No schema changes recorded since the table was first scanned on %1.',
          formatTimestamp(table.first_seen)
        )}
      </p>
    );
  }
  return (
    <div className="jp-WorkbenchCatalogTable-gridWrap">
      <table className="jp-WorkbenchCatalogTable-grid">
        <thead>
          <tr>
            <th scope="col">{trans.__('When')}</th>
            <th scope="col">{trans.__('Change')}</th>
            <th scope="col">{trans.__('Column')}</th>
            <th scope="col">{trans.__('Before')}</th>
            <th scope="col">{trans.__('After')}</th>
          </tr>
        </thead>
        <tbody>
          {table.history.map((change, i) => (
            <tr key={i}>
              <td>{formatTimestamp(change.at)}</td>
              <td>{change.change}</td>
              <td>{change.column ?? ''}</td>
              <td>{change.old ?? ''}</td>
              <td>{change.new ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
