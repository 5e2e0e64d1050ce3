/**
 * How the run view says where a run's webhook deliveries stand.
 */
import {
  attemptAnswer,
  deliveryLine,
  targetHost
} from '../pipelines/deliveries';
import { IWebhookDelivery } from '../pipelines/tokens';

const RETRYING: IWebhookDelivery = {
  id: 7,
  event: 'run.succeeded',
  event_id: 'evt_1',
  url: 'https://n8n.example.com/webhook/workbench-events?token=abc',
  target_id: 3,
  status: 'retrying',
  attempts: 2,
  created_at: '2026-12-06T19:20:00Z',
  delivered_at: null,
  last_error: 'webhook could not be reached: [Errno 111] Connection refused',
  history: [
    {
      attempt: 1,
      at: '2026-12-06T19:20:00Z',
      status_code: null,
      duration_ms: 1.2,
      error: 'webhook could not be reached: [Errno 111] Connection refused'
    },
    {
      attempt: 2,
      at: '2026-12-06T19:20:01Z',
      status_code: 503,
      duration_ms: 20.4,
      error: 'webhook answered HTTP 503'
    }
  ]
};

describe('webhook deliveries', () => {
  it('names the target by its host only (its path may hold a token)', () => {
    expect(targetHost(RETRYING.url)).toBe('n8n.example.com');
    expect(targetHost('not a url')).toBe('not a url');
  });

  it('says a retried delivery is being retried, with its last answer', () => {
    expect(deliveryLine(RETRYING)).toBe(
      'run.succeeded → n8n.example.com: retrying (2 attempts, webhook answered HTTP 503)'
    );
  });

  it('says when a delivery arrived and what the target answered', () => {
    const delivered: IWebhookDelivery = {
      ...RETRYING,
      status: 'delivered',
      attempts: 3,
      delivered_at: '2026-12-06T19:20:05Z',
      history: [
        ...RETRYING.history,
        {
          attempt: 3,
          at: '2026-12-06T19:20:05Z',
          status_code: 200,
          duration_ms: 31.4,
          error: null
        }
      ]
    };
    expect(attemptAnswer(delivered.history[2])).toBe('HTTP 200 in 31 ms');
    expect(deliveryLine(delivered)).toMatch(
      /^run\.succeeded → n8n\.example\.com: delivered .+ \(3 attempts, HTTP 200 in 31 ms\)$/
    );
  });
});
