import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatAgo, formatTime } from '../../pipelines/format';
import { labelText, silenceOf } from '../format';
import { IAlert, ISilence } from '../tokens';

/**
 * What an admin can do with an alert from the list.
 */
export interface IAlertActions {
  acknowledge: (alert: IAlert) => void;
  silence: (alert: IAlert) => void;
  endSilence: (silence: ISilence) => void;
}

/**
 * The alerts firing now, most severe first, each with its state (silenced,
 * acknowledged) and, for admins, the actions on it.
 */
export function AlertsList(props: {
  alerts: IAlert[];
  silences: ISilence[];
  admin: boolean;
  busy: boolean;
  trans: TranslationBundle;
  actions: IAlertActions;
}): JSX.Element {
  const { alerts, silences, admin, busy, trans, actions } = props;
  if (alerts.length === 0) {
    return (
      <div className="jp-WorkbenchOperations-empty" data-alerts="none">
        {trans.__('No alert is firing.')}
      </div>
    );
  }
  const ordered = [...alerts].sort(
    (a, b) =>
      a.severity.localeCompare(b.severity) ||
      b.started_at.localeCompare(a.started_at)
  );
  return (
    <ul className="jp-WorkbenchOperations-alerts">
      {ordered.map(alert => {
        const silence = silenceOf(alert, silences);
        return (
          <li
            key={alert.id}
            className="jp-WorkbenchOperations-alert"
            data-alert-id={alert.id}
            data-rule={alert.rule}
            data-silenced={silence ? 'true' : 'false'}
            data-acknowledged={alert.acknowledged_at ? 'true' : 'false'}
          >
            <span
              className={`jp-WorkbenchOperations-severity jp-mod-${alert.severity}`}
            >
              {alert.severity}
            </span>
            <div className="jp-WorkbenchOperations-alertBody">
              <div className="jp-WorkbenchOperations-alertTitle">
                <strong>{alert.rule}</strong>{' '}
                <span className="jp-WorkbenchOperations-dim">
                  {labelText(alert.labels)}
                </span>
              </div>
              <div className="jp-WorkbenchOperations-alertSummary">
                {alert.summary}
              </div>
              <div className="jp-WorkbenchOperations-dim">
                <span title={formatTime(alert.started_at)}>
                  {trans.__('firing since %1', formatAgo(alert.started_at))}
                </span>
                {alert.acknowledged_at && (
                  <span className="jp-WorkbenchOperations-badge jp-mod-ack">
                    {trans.__(
                      'acknowledged by %1',
                      alert.acknowledged_by ?? ''
                    )}
                  </span>
                )}
                {silence && (
                  <span
                    className="jp-WorkbenchOperations-badge jp-mod-silenced"
                    title={silence.comment}
                  >
                    {trans.__(
                      'silenced until %1 by %2',
                      formatTime(silence.ends_at),
                      silence.created_by
                    )}
                  </span>
                )}
              </div>
            </div>
            {admin && (
              <div className="jp-WorkbenchOperations-alertActions">
                {!alert.acknowledged_at && (
                  <button
                    className="jp-mod-styled"
                    disabled={busy}
                    onClick={() => actions.acknowledge(alert)}
                  >
                    {trans.__('Acknowledge')}
                  </button>
                )}
                {silence ? (
                  <button
                    className="jp-mod-styled"
                    disabled={busy}
                    onClick={() => actions.endSilence(silence)}
                  >
                    {trans.__('End silence')}
                  </button>
                ) : (
                  <button
                    className="jp-mod-styled"
                    disabled={busy}
                    onClick={() => actions.silence(alert)}
                  >
                    {trans.__('Silence…')}
                  </button>
                )}
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}
