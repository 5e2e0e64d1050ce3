/**
 * The first rows of a table, as the server previews them (bounded, masked).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatCell } from '../format';
import { IPreview } from '../tokens';
import { ITableEditor, Loadable } from './tableParts';

export function PreviewGrid(props: {
  state: Loadable<IPreview>;
  editor: ITableEditor;
  trans: TranslationBundle;
}): JSX.Element {
  const { state, editor, trans } = props;
  if (state.status !== 'ready') {
    return (
      <div className="jp-WorkbenchCatalogTable-message" role="status">
        {state.status === 'error' ? (
          <>
            {trans.__('Failed: %1', state.error)}{' '}
            <button
              type="button"
              className="jp-mod-styled"
              onClick={() => void editor.loadPreview()}
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
        {typeof preview.version === 'number' && (
          <button
            type="button"
            className="jp-mod-styled jp-WorkbenchCatalogTable-current"
            onClick={() => editor.previewVersion(null)}
          >
            {trans.__('Show current rows')}
          </button>
        )}
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
