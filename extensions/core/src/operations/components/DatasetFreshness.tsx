import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatDuration, formatTime } from '../../pipelines/format';
import { IDatasetSla } from '../tokens';

/**
 * Each dataset's freshness SLA: its rule, state (missed and at risk first),
 * age, deadline and misses, and why it is not ok.
 */
export function DatasetFreshness(props: {
  datasets: IDatasetSla[];
  trans: TranslationBundle;
}): JSX.Element | null {
  const { trans } = props;
  if (props.datasets.length === 0) {
    return null;
  }
  const rank = { missed: 0, at_risk: 1, ok: 2 };
  const datasets = [...props.datasets].sort(
    (a, b) =>
      rank[a.status] - rank[b.status] || a.dataset.localeCompare(b.dataset)
  );
  return (
    <table className="jp-WorkbenchOperations-table jp-WorkbenchOperations-datasets">
      <thead>
        <tr>
          <th>{trans.__('Dataset')}</th>
          <th>{trans.__('Freshness SLA')}</th>
          <th>{trans.__('State')}</th>
          <th className="jp-mod-number">{trans.__('Age')}</th>
          <th>{trans.__('Due')}</th>
          <th className="jp-mod-number">{trans.__('Misses')}</th>
        </tr>
      </thead>
      <tbody>
        {datasets.map(d => (
          <tr
            key={`${d.pipeline}:${d.dataset}`}
            data-dataset={d.dataset}
            data-status={d.status}
          >
            <td>
              {d.dataset}{' '}
              <span className="jp-WorkbenchOperations-dim">
                {trans.__('by %1', d.pipeline)}
              </span>
            </td>
            <td className="jp-WorkbenchOperations-dim">{d.rule}</td>
            <td data-col="state">
              <span
                className={`jp-WorkbenchOperations-badge jp-mod-sla-${
                  d.status === 'at_risk' ? 'at-risk' : d.status
                }`}
              >
                {
                  {
                    ok: trans.__('fresh'),
                    at_risk: trans.__('at risk'),
                    missed: trans.__('missed')
                  }[d.status]
                }
              </span>{' '}
              <span className="jp-WorkbenchOperations-dim">
                {freshnessReason(d, trans)}
              </span>
            </td>
            <td className="jp-mod-number" title={formatTime(d.last_write)}>
              {d.age_seconds === null
                ? trans.__('never written')
                : formatDuration(d.age_seconds)}
            </td>
            <td>{formatTime(d.due)}</td>
            <td className="jp-mod-number">{d.misses}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Why a dataset is not fresh, or will not be: empty when it is ok.
 */
export function freshnessReason(
  d: IDatasetSla,
  trans: TranslationBundle
): string {
  if (d.status === 'at_risk') {
    const upstream = d.upstream ?? trans.__('a pipeline you may not see');
    return d.reason === 'late'
      ? trans.__('%1 is late', upstream)
      : trans.__('%1 failed', upstream);
  }
  if (d.status === 'missed') {
    return d.reason === 'never written'
      ? trans.__('never written')
      : trans.__('stale');
  }
  return '';
}
