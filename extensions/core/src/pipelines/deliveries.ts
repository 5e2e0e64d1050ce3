/**
 * How the run view speaks of a run's webhook deliveries.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { formatTime } from './format';
import { IWebhookAttempt, IWebhookDelivery } from './tokens';

/**
 * Where a URL points, without its path and query (they may hold a token).
 */
export function targetHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * One attempt's answer: `HTTP 204 in 12 ms`, or why it got none.
 */
export function attemptAnswer(
  attempt: IWebhookAttempt,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  if (attempt.status_code !== null && !attempt.error) {
    return trans.__(
      'HTTP %1 in %2 ms',
      attempt.status_code,
      Math.round(attempt.duration_ms)
    );
  }
  return attempt.error ?? trans.__('no answer');
}

/**
 * One line per delivery: the event, to where, its state and its last answer,
 * e.g. `run.succeeded → n8n.example.com: delivered 19:20:01 (2 attempts,
 * HTTP 200 in 31 ms)`.
 */
export function deliveryLine(
  delivery: IWebhookDelivery,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  const last = delivery.history[delivery.history.length - 1];
  const state =
    delivery.status === 'delivered'
      ? trans.__('delivered %1', formatTime(delivery.delivered_at))
      : delivery.status === 'retrying'
        ? trans.__('retrying')
        : delivery.status === 'failed'
          ? trans.__('failed, not retried')
          : trans.__('queued');
  const tries =
    delivery.attempts === 1
      ? trans.__('1 attempt')
      : trans.__('%1 attempts', delivery.attempts);
  const answer = last ? `, ${attemptAnswer(last, trans)}` : '';
  return `${delivery.event} → ${targetHost(delivery.url)}: ${state} (${tries}${answer})`;
}
