/**
 * A lake table's versions: when, who, what and how many rows each changed;
 * choosing one previews the table as of it.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatTimestamp } from '../format';
import { ITableVersion } from '../tokens';
import {
  formatCount,
  isMaintenance,
  versionOperation,
  versionWriter
} from '../versions';
import { Loadable } from './tableParts';

export function VersionsList(props: {
  state: Loadable<ITableVersion[]>;
  /**
   * Whether older versions may follow the ones listed.
   */
  more: boolean;
  /**
   * The version the preview shows (null: the current rows).
   */
  shown: number | null;
  trans: TranslationBundle;
  onPreview: (version: number) => void;
  onMore: () => void;
  onRetry: () => void;
}): JSX.Element {
  const { state, trans } = props;
  if (state.status !== 'ready') {
    return (
      <div className="jp-WorkbenchCatalogTable-message" role="status">
        {state.status === 'error' ? (
          <>
            {trans.__('Failed: %1', state.error)}{' '}
            <button
              type="button"
              className="jp-mod-styled"
              onClick={props.onRetry}
            >
              {trans.__('Retry')}
            </button>
          </>
        ) : (
          trans.__('Loading versions…')
        )}
      </div>
    );
  }
  const versions = state.value;
  if (versions.length === 0) {
    return (
      <p className="jp-WorkbenchCatalogTable-message">
        {trans.__(
          'No versions are listed: their log entries are older than the layer keeps.'
        )}
      </p>
    );
  }
  return (
    <>
      <div className="jp-WorkbenchCatalogTable-gridWrap">
        <table
          className="jp-WorkbenchCatalogTable-grid jp-WorkbenchCatalogTable-versions"
          aria-label={trans.__('Versions')}
        >
          <thead>
            <tr>
              <th scope="col">{trans.__('Version')}</th>
              <th scope="col">{trans.__('When (UTC)')}</th>
              <th scope="col">{trans.__('Who')}</th>
              <th scope="col">{trans.__('Operation')}</th>
              <th scope="col" className="jp-mod-number">
                {trans.__('Rows added')}
              </th>
              <th scope="col" className="jp-mod-number">
                {trans.__('Updated')}
              </th>
              <th scope="col" className="jp-mod-number">
                {trans.__('Removed')}
              </th>
              <th scope="col">
                <span className="jp-WorkbenchCatalogTable-hidden">
                  {trans.__('Preview')}
                </span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map(version => {
              const current = props.shown === version.version;
              const classes = [
                isMaintenance(version) ? 'jp-mod-maintenance' : '',
                current ? 'jp-mod-current' : ''
              ].filter(Boolean);
              return (
                <tr
                  key={version.version}
                  data-version={version.version}
                  className={classes.join(' ') || undefined}
                  aria-current={current ? 'true' : undefined}
                >
                  <td className="jp-mod-number">{version.version}</td>
                  <td className="jp-WorkbenchCatalogTable-when">
                    {formatTimestamp(version.timestamp)}
                  </td>
                  <td
                    className="jp-WorkbenchCatalogTable-writer"
                    title={version.writer_text}
                  >
                    {versionWriter(version) || trans.__('unknown')}
                  </td>
                  <td title={version.operation}>{versionOperation(version)}</td>
                  <td className="jp-mod-number">
                    {formatCount(version.rows_added)}
                  </td>
                  <td className="jp-mod-number">
                    {formatCount(version.rows_updated)}
                  </td>
                  <td className="jp-mod-number">
                    {formatCount(version.rows_removed)}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="jp-WorkbenchCatalogTable-versionPreview"
                      aria-label={trans.__(
                        'Preview as of version %1',
                        version.version
                      )}
                      aria-pressed={current}
                      onClick={() => props.onPreview(version.version)}
                    >
                      {trans.__('Preview')}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {props.more && (
        <button
          type="button"
          className="jp-mod-styled jp-WorkbenchCatalogTable-more"
          onClick={props.onMore}
        >
          {trans.__('Older versions')}
        </button>
      )}
    </>
  );
}
