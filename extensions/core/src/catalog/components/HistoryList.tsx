/**
 * A table's schema history: columns added, dropped and retyped by re-scans.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatTimestamp } from '../format';
import { ITableDetail } from '../tokens';

export function HistoryList(props: {
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
