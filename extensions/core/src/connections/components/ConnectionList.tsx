/**
 * The left column of the connections dialog: Add, and every connection with
 * its kind and last test outcome.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { mayChange, readOnlyNote } from '../readOnly';
import { IConnection, ITestResult } from '../tokens';

export interface IConnectionListProps {
  trans: TranslationBundle;
  connections: IConnection[] | null;
  selected: string | null;
  /**
   * The connection list is being (re)loaded.
   */
  loading: boolean;
  loadError: string | null;
  tests: { [name: string]: ITestResult };
  kindLabel: (kind: string) => string;
  onAdd: () => void;
  onSelect: (connection: IConnection) => void;
  onRetry: () => void;
}

export function ConnectionList(props: IConnectionListProps): JSX.Element {
  const { trans, connections, selected, tests } = props;
  return (
    <div className="jp-WorkbenchConnections-sidebar">
      <button
        type="button"
        className="jp-mod-styled jp-WorkbenchConnections-add"
        aria-pressed={selected === null}
        onClick={props.onAdd}
      >
        {trans.__('+ Add connection')}
      </button>
      {props.loadError !== null && (
        <div className="jp-WorkbenchConnections-problem" role="alert">
          {trans.__('The connections could not be loaded: %1', props.loadError)}{' '}
          <button
            type="button"
            className="jp-mod-styled"
            onClick={props.onRetry}
          >
            {trans.__('Retry')}
          </button>
        </div>
      )}
      <ul
        className="jp-WorkbenchConnections-list"
        aria-label={trans.__('Connections')}
        aria-busy={props.loading}
      >
        {(connections ?? []).map(c => {
          const tested = tests[c.name];
          return (
            <li key={c.name}>
              <button
                type="button"
                className={`jp-WorkbenchConnections-item${
                  c.name === selected ? ' jp-mod-selected' : ''
                }`}
                aria-current={c.name === selected}
                data-connection={c.name}
                data-may-change={String(mayChange(c))}
                title={readOnlyNote(c, trans) ?? undefined}
                onClick={() => props.onSelect(c)}
              >
                <span className="jp-WorkbenchConnections-itemName">
                  {c.name}
                </span>
                <span className="jp-WorkbenchConnections-itemKind">
                  {props.kindLabel(c.kind)}
                </span>
                {tested && (
                  <span
                    className={`jp-WorkbenchConnections-badge ${
                      tested.ok ? 'jp-mod-ok' : 'jp-mod-failed'
                    }`}
                    title={tested.message}
                  >
                    {tested.ok ? trans.__('OK') : trans.__('failed')}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
      {connections !== null && connections.length === 0 && (
        <p className="jp-WorkbenchConnections-muted">
          {trans.__('No connections yet.')}
        </p>
      )}
    </div>
  );
}
