/**
 * The top of a table view: name, label, certification, facts, description,
 * tags and actions.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  closeIcon,
  copyIcon,
  launchIcon,
  notebookIcon,
  refreshIcon,
  shareIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { formatRowEstimate, formatTimestamp, parseTags } from '../format';
import { ITable } from '../tokens';
import { lastWrite } from '../versions';
import { InlineEdit } from './InlineEdit';
import { ITableActions, ITableEditor, TagList } from './tableParts';

export function TableHeader(props: {
  table: ITable;
  trans: TranslationBundle;
  editor: ITableEditor;
  actions: ITableActions;
  onShowLineage: () => void;
  onReload: () => void;
}): JSX.Element {
  const { table, trans, editor } = props;
  const tags = table.tags;
  const written = lastWrite(table);
  return (
    <header className="jp-WorkbenchCatalogTable-header">
      <div className="jp-WorkbenchCatalogTable-titleRow">
        <h1 className="jp-WorkbenchCatalogTable-name">
          <span className="jp-WorkbenchCatalogTable-schema">
            {table.schema}.
          </span>
          {table.name}
        </h1>
        {table.label && (
          <span className="jp-WorkbenchCatalogTable-label">{table.label}</span>
        )}
        <label className="jp-WorkbenchCatalogTable-certified">
          <input
            type="checkbox"
            checked={table.certified}
            onChange={event =>
              void editor.saveTable({ certified: event.currentTarget.checked })
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
        {written && written.version !== null && (
          <>
            <dt>{trans.__('Version')}</dt>
            <dd data-fact="version">
              {written.versions
                ? trans.__('%1 (%2 listed)', written.version, written.versions)
                : written.version}
            </dd>
          </>
        )}
        {written && written.when && (
          <>
            <dt>{trans.__('Last written')}</dt>
            <dd data-fact="last-write" title={written.operation ?? undefined}>
              {written.who
                ? trans.__(
                    '%1 UTC · %2',
                    formatTimestamp(written.when),
                    written.who
                  )
                : trans.__('%1 UTC', formatTimestamp(written.when))}
            </dd>
          </>
        )}
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
            editor.saveTable({ description: value.trim() ? value : null })
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
          onSave={value => editor.saveTable({ tags: parseTags(value) })}
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
          onClick={props.onShowLineage}
        />
        {props.actions.publish &&
          ['bronze', 'silver', 'gold'].includes(table.schema) && (
            <ActionButton
              icon={<launchIcon.react tag="span" elementSize="normal" />}
              label={trans.__('Publish to Superset')}
              onClick={() => props.actions.publish?.(table)}
            />
          )}
        {props.actions.unpublish &&
          ['bronze', 'silver', 'gold'].includes(table.schema) && (
            <ActionButton
              icon={<closeIcon.react tag="span" elementSize="normal" />}
              label={trans.__('Remove from Superset')}
              onClick={() => props.actions.unpublish?.(table)}
            />
          )}
        <ActionButton
          icon={<refreshIcon.react tag="span" elementSize="normal" />}
          label={trans.__('Reload')}
          onClick={props.onReload}
        />
      </div>
    </header>
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
