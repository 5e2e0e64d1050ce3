/**
 * What the parts of a table view share.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDatasetRef, ITable, ITablePatch } from '../tokens';
import { hasVersions } from '../versions';

/**
 * Tabs of a table view.
 */
export type TableTab =
  'columns' | 'preview' | 'versions' | 'lineage' | 'history';

/**
 * The tabs a table has: Versions for a lake's Delta tables only.
 */
export function tabsOf(table: ITable): TableTab[] {
  return hasVersions(table)
    ? ['columns', 'preview', 'versions', 'lineage', 'history']
    : ['columns', 'preview', 'lineage', 'history'];
}

/**
 * Something loaded on demand: not yet asked, loading, there, or failed.
 */
export type Loadable<T> =
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
  /**
   * Publish a lake table to Superset (absent: the action is not offered).
   */
  publish?: (table: ITable) => void;
  /**
   * Take a published lake table out of Superset (absent: not offered).
   */
  unpublish?: (table: ITable) => void;
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
 * The edits and loads a table view's parts ask of it; each resolves false
 * (after saying why) when it failed.
 */
export interface ITableEditor {
  saveTable(patch: ITablePatch): Promise<boolean>;
  saveColumn(
    column: string,
    patch: { description?: string | null; tags?: string[] }
  ): Promise<boolean>;
  loadPreview(): Promise<void>;
  /**
   * Preview a lake table as of `version` (null: its current rows).
   */
  previewVersion(version: number | null): void;
}

export function LoadState(props: {
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

export function TagList(props: {
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
