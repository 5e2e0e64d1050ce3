import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatDuration } from '../../pipelines/format';
import { queueBacklog } from '../format';
import { IOperationsSummary } from '../tokens';

/**
 * A part of the health report by its name in the user's language.
 */
function partName(part: string, trans: TranslationBundle): string {
  switch (part) {
    case 'metadata_db':
      return trans.__('Metadata DB');
    case 'temporal':
      return trans.__('Temporal');
    case 'worker':
      return trans.__('Pipeline workers');
    default:
      return part;
  }
}

/**
 * Each part's health, the workers polling the task queue and its backlog.
 */
export function HealthPanel(props: {
  summary: IOperationsSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { summary, trans } = props;
  const queue = summary.queue;
  const backlog = queueBacklog(queue);
  return (
    <div className="jp-WorkbenchOperations-health">
      <ul className="jp-WorkbenchOperations-checks">
        {Object.entries(summary.health.checks).map(([part, check]) => (
          <li
            key={part}
            className={`jp-WorkbenchOperations-check jp-mod-${check.status}`}
            data-part={part}
            data-status={check.status}
          >
            <span className="jp-WorkbenchOperations-dot" />
            <strong>{partName(part, trans)}</strong>{' '}
            <span className="jp-WorkbenchOperations-dim">{check.detail}</span>
          </li>
        ))}
      </ul>
      <div
        className="jp-WorkbenchOperations-queue"
        data-backlog={backlog ?? ''}
      >
        <strong>{trans.__('Task queue %1', queue.task_queue)}</strong>
        {queue.detail ? (
          <div className="jp-WorkbenchOperations-dim">{queue.detail}</div>
        ) : (
          <table className="jp-WorkbenchOperations-table">
            <thead>
              <tr>
                <th>{trans.__('Tasks')}</th>
                <th className="jp-mod-number">{trans.__('Waiting')}</th>
                <th className="jp-mod-number">{trans.__('Oldest')}</th>
                <th className="jp-mod-number">{trans.__('Workers polling')}</th>
              </tr>
            </thead>
            <tbody>
              {queue.types.map(t => (
                <tr key={t.type} data-queue={t.type}>
                  <td>
                    {t.type === 'workflow'
                      ? trans.__('runs (workflow tasks)')
                      : trans.__('steps (activity tasks)')}
                  </td>
                  <td className="jp-mod-number" data-col="backlog">
                    {t.backlog}
                  </td>
                  <td className="jp-mod-number">
                    {t.backlog > 0 ? formatDuration(t.oldest_s) : '—'}
                  </td>
                  <td className="jp-mod-number">{t.pollers}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="jp-WorkbenchOperations-workers">
          {summary.workers.length === 0
            ? trans.__('No worker polled the task queue lately.')
            : trans.__('Workers: %1', summary.workers.join(', '))}
        </div>
      </div>
    </div>
  );
}
