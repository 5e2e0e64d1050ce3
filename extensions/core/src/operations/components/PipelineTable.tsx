import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatAgo, formatDuration, formatTime } from '../../pipelines/format';
import { formatRate, rateLevel, slaState, slaText } from '../format';
import { IPipelineOps, ISlaRisk } from '../tokens';
import { Sparkline } from './RunFigures';

/**
 * One row per pipeline the user may see: its runs in the window, success
 * rate, durations and their trend, SLA state and latest run.
 */
export function PipelineTable(props: {
  pipelines: IPipelineOps[];
  risks: ISlaRisk[];
  trans: TranslationBundle;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { pipelines, risks, trans } = props;
  if (pipelines.length === 0) {
    return (
      <div className="jp-WorkbenchOperations-empty">
        {trans.__('No pipeline deployed that you may see.')}
      </div>
    );
  }
  return (
    <table className="jp-WorkbenchOperations-table jp-WorkbenchOperations-pipelines">
      <thead>
        <tr>
          <th>{trans.__('Pipeline')}</th>
          <th className="jp-mod-number">{trans.__('Runs')}</th>
          <th className="jp-mod-number">{trans.__('Success')}</th>
          <th className="jp-mod-number">{trans.__('Median')}</th>
          <th className="jp-mod-number">{trans.__('p95')}</th>
          <th>{trans.__('Duration trend')}</th>
          <th>{trans.__('SLA')}</th>
          <th>{trans.__('Latest run')}</th>
        </tr>
      </thead>
      <tbody>
        {pipelines.map(p => {
          const state = slaState(p, risks);
          const risk = risks.find(r => r.pipeline === p.pipeline);
          return (
            <tr key={p.pipeline} data-pipeline={p.pipeline}>
              <td>
                <button
                  className="jp-WorkbenchOperations-link"
                  title={trans.__('Open pipeline %1', p.pipeline)}
                  onClick={() => props.onOpen(p.pipeline)}
                >
                  {p.pipeline}
                </button>
              </td>
              <td className="jp-mod-number" data-col="runs">
                {p.runs}
                {p.active > 0 && (
                  <span className="jp-WorkbenchOperations-dim">
                    {' '}
                    {trans.__('+%1 going', p.active)}
                  </span>
                )}
              </td>
              <td
                className={`jp-mod-number jp-mod-${rateLevel(p.success_rate)}`}
                data-col="success-rate"
              >
                {formatRate(p.success_rate)}
              </td>
              <td className="jp-mod-number" data-col="p50">
                {formatDuration(p.p50_s) || '—'}
              </td>
              <td className="jp-mod-number" data-col="p95">
                {formatDuration(p.p95_s) || '—'}
              </td>
              <td>
                <Sparkline
                  values={p.trend_p50_s}
                  label={trans.__(
                    'Median duration of %1 over time',
                    p.pipeline
                  )}
                />
              </td>
              <td data-col="sla" data-sla={state}>
                {state !== 'none' && (
                  <span
                    className={`jp-WorkbenchOperations-badge jp-mod-sla-${state}`}
                  >
                    {
                      {
                        'at-risk': trans.__('at risk'),
                        missed: trans.__('missed %1×', p.sla_misses),
                        ok: trans.__('kept')
                      }[state]
                    }
                  </span>
                )}{' '}
                <span className="jp-WorkbenchOperations-dim">
                  {risk
                    ? riskText(risk, trans)
                    : slaText(p.sla, trans) || trans.__('no SLA')}
                </span>
              </td>
              <td data-col="last" title={formatTime(p.last_finished_at)}>
                {p.last_status ? (
                  <>
                    <span
                      className={`jp-WorkbenchOperations-state jp-mod-${p.last_status}`}
                    >
                      {p.last_status}
                    </span>{' '}
                    <span className="jp-WorkbenchOperations-dim">
                      {formatAgo(p.last_finished_at)}
                    </span>
                  </>
                ) : (
                  <span className="jp-WorkbenchOperations-dim">
                    {trans.__('never ran')}
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * Why a pipeline's SLA is at risk, and by when it must be done.
 */
export function riskText(risk: ISlaRisk, trans: TranslationBundle): string {
  const upstream = risk.upstream ?? trans.__('a pipeline you may not see');
  const why =
    risk.reason === 'late'
      ? trans.__('upstream %1 is late', upstream)
      : trans.__('upstream %1 failed', upstream);
  const due = risk.deadline
    ? trans.__('due %1', formatTime(risk.deadline))
    : trans.__('deadline unknown');
  return `${why} · ${due}`;
}
