/**
 * A table's lineage: the graph, and the datasets up- and downstream as lists.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  datasetLabel,
  datasetOf,
  ILineageRow,
  lineageLayout
} from '../lineage';
import { IDatasetRef, ILineageGraph, ITable } from '../tokens';
import { LineageGraph } from './LineageGraph';
import { Loadable, LoadState } from './tableParts';

/**
 * The lineage of a table: the graphs (null when nothing is recorded) and
 * their datasets as lists.
 */
export interface ILineage {
  upstream: ILineageRow[];
  downstream: ILineageRow[];
  graphs: {
    upstream: ILineageGraph | null;
    downstream: ILineageGraph | null;
  };
}

export function LineageLists(props: {
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
