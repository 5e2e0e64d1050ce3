import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { stateClass } from '../dag';
import {
  formatDuration,
  formatTime,
  runDuration,
  shortRunId,
  stateLabel
} from '../format';
import { runCancellation, runOrigin, runOriginText } from '../runOrigin';
import { IRun } from '../tokens';

/**
 * The run history of a pipeline view: each run's state, who started it (and
 * who cancelled it), when, for how long. Rows select the run the DAG shows.
 *
 * In a narrow view (a side panel, a split) the optional columns go, by a
 * container query on the history's own width: the duration below 360 px, the
 * attempts and the run id (also in the summary above) below 520 px.
 */
export function RunHistory(props: {
  trans: TranslationBundle;
  /**
   * The listed runs, newest first.
   */
  runs: IRun[];
  /**
   * Runs fetched with their attempts, by id.
   */
  details: Map<string, IRun>;
  selected: string | null;
  /**
   * Whether the list was loaded (else an empty list is not "no run yet").
   */
  loaded: boolean;
  /**
   * What to say when there is no run yet.
   */
  placeholder: string;
  onSelect: (id: string) => void;
}): JSX.Element {
  const { trans, runs, details } = props;
  const now = Date.now();
  return (
    <div className="jp-WorkbenchPipeline-history">
      <h2>{trans.__('Runs')}</h2>
      {props.loaded && runs.length === 0 ? (
        <div className="jp-WorkbenchPipeline-placeholder">
          {props.placeholder}
        </div>
      ) : (
        <table className="jp-WorkbenchPipeline-runs">
          <thead>
            <tr>
              <th>{trans.__('Status')}</th>
              <th>{trans.__('Started by')}</th>
              <th>{trans.__('Started')}</th>
              <th className="jp-mod-optional">{trans.__('Duration')}</th>
              <th
                className="jp-mod-wide"
                title={trans.__('Attempts of all steps, retries included')}
              >
                {trans.__('Step attempts')}
              </th>
              <th className="jp-mod-wide">{trans.__('Run')}</th>
            </tr>
          </thead>
          <tbody>
            {runs.map(listed => {
              const run = details.get(listed.id) ?? listed;
              const selected = run.id === props.selected;
              const origin = runOrigin(run, trans);
              const cancellation = runCancellation(run, trans);
              return (
                <tr
                  key={run.id}
                  data-run={run.id}
                  data-state={run.status}
                  data-trigger={run.trigger}
                  className={selected ? 'jp-mod-selected' : ''}
                  aria-selected={selected}
                  onClick={() => props.onSelect(run.id)}
                >
                  <td>
                    <span
                      className={`jp-WorkbenchPipeline-badge ${stateClass(run.status)}`}
                    >
                      {stateLabel(run.status)}
                    </span>
                    {cancellation && (
                      <div className="jp-WorkbenchPipeline-runBy">
                        {cancellation}
                      </div>
                    )}
                  </td>
                  <td
                    className="jp-WorkbenchPipeline-runOrigin"
                    title={runOriginText(run, trans)}
                  >
                    {origin.who}
                    {origin.detail && (
                      <div className="jp-WorkbenchPipeline-runBy">
                        {origin.detail}
                      </div>
                    )}
                  </td>
                  <td>{formatTime(run.started_at ?? run.created_at)}</td>
                  <td className="jp-mod-optional">
                    {formatDuration(runDuration(run, now))}
                  </td>
                  <td className="jp-mod-wide">
                    {details.has(listed.id) ? run.attempts.length : ''}
                  </td>
                  <td className="jp-mod-wide jp-WorkbenchPipeline-runId">
                    {shortRunId(run.id)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
