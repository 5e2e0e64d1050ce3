/**
 * The columns of a table: type, Odoo label, description and tags (editable).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { parseTags } from '../format';
import { IColumn, ITableDetail } from '../tokens';
import { InlineEdit } from './InlineEdit';
import { ITableEditor, TagList } from './tableParts';

export function ColumnsGrid(props: {
  table: ITableDetail;
  editor: ITableEditor;
  trans: TranslationBundle;
}): JSX.Element {
  const { table, editor, trans } = props;
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
              editor={editor}
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
  editor: ITableEditor;
  trans: TranslationBundle;
}): JSX.Element {
  const { column, editor, trans } = props;
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
            editor.saveColumn(column.name, {
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
            editor.saveColumn(column.name, { tags: parseTags(value) })
          }
        />
      </td>
    </tr>
  );
}
