import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { attemptAnswer, deliveryLine } from '../deliveries';
import { formatTime } from '../format';
import { IWebhookDelivery } from '../tokens';

/**
 * A run's webhook deliveries (n8n and other targets): one line each, with
 * every attempt's answer when opened.
 */
export function RunDeliveries(props: {
  trans: TranslationBundle;
  deliveries: IWebhookDelivery[];
}): JSX.Element | null {
  const { trans, deliveries } = props;
  if (deliveries.length === 0) {
    return null;
  }
  return (
    <details className="jp-WorkbenchPipeline-deliveries">
      <summary>
        {trans.__('Webhook deliveries (%1)', deliveries.length)}
      </summary>
      <ul>
        {deliveries.map(delivery => (
          <li
            key={delivery.id}
            className={`jp-WorkbenchPipeline-delivery jp-mod-${delivery.status}`}
            data-event={delivery.event}
          >
            <div>{deliveryLine(delivery, trans)}</div>
            <ol>
              {delivery.history.map(attempt => (
                <li key={attempt.attempt}>
                  {`${formatTime(attempt.at)} ${attemptAnswer(attempt, trans)}`}
                </li>
              ))}
            </ol>
          </li>
        ))}
      </ul>
    </details>
  );
}
