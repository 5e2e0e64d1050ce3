import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IHealthSummary } from '../health';
import { HealthModel } from '../model';

/**
 * The details of a health summary: the overall sentence and one row per part.
 */
export function HealthDetails(props: {
  summary: IHealthSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { summary, trans } = props;
  return (
    <div className="jp-WorkbenchHealth-details">
      <p className={`jp-WorkbenchHealth-title jp-mod-${summary.severity}`}>
        {summary.title}
      </p>
      {summary.lines.length > 0 && (
        <table className="jp-WorkbenchHealth-table">
          <thead>
            <tr>
              <th>{trans.__('Part')}</th>
              <th>{trans.__('Status')}</th>
              <th>{trans.__('Detail')}</th>
              <th>{trans.__('Latency')}</th>
            </tr>
          </thead>
          <tbody>
            {summary.lines.map(line => (
              <tr key={line.id} data-part={line.id}>
                <td>{line.name}</td>
                <td>
                  <span
                    className={`jp-WorkbenchHealth-dot jp-mod-${line.severity}`}
                    aria-hidden="true"
                  />
                  {line.status}
                </td>
                <td className="jp-WorkbenchHealth-detail">{line.detail}</td>
                <td className="jp-WorkbenchHealth-latency">{line.latency}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/**
 * Check the health now and show it in a dialog that follows later checks.
 */
export async function showHealthDialog(
  model: HealthModel,
  trans: TranslationBundle
): Promise<void> {
  const body = ReactWidget.create(
    <UseSignal
      signal={model.changed}
      initialArgs={{
        previous: model.summary,
        current: model.summary,
        notice: null
      }}
    >
      {(_, change) => (
        <HealthDetails
          summary={change?.current ?? model.summary}
          trans={trans}
        />
      )}
    </UseSignal>
  );
  body.addClass('jp-WorkbenchHealth-dialogBody');
  const dialog = showDialog({
    title: trans.__('Workbench health'),
    body,
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
  // Open at once with what is known and let the fresh answer update it.
  void model.refresh();
  await dialog;
}
