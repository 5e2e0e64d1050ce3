import { ServerConnection } from '@jupyterlab/services';

import { fetchHealth, HealthModel } from '../model';
import { APIError, requestAPI } from '../request';

/**
 * Server settings whose fetch answers like a Jupyter server would, so the
 * request layer runs for real without a network.
 */
function settingsAnswering(
  answer: (url: string) => Promise<Response>
): ServerConnection.ISettings & { urls: string[] } {
  const urls: string[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://127.0.0.1:8888/user/ana/',
    fetch: (input: RequestInfo | URL) => {
      const url = input instanceof Request ? input.url : String(input);
      urls.push(url);
      return answer(url);
    }
  });
  return Object.assign(settings, { urls });
}

function json(status: number, body: unknown): Promise<Response> {
  return Promise.resolve(
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    })
  );
}

const okReport = {
  status: 'ok',
  version: '0.1.0',
  checks: {
    metadata_db: { status: 'ok', detail: 'sqlite', latency_ms: 1 }
  }
};

describe('requestAPI', () => {
  it('calls the workbench namespace below the base URL', async () => {
    const settings = settingsAnswering(() => json(200, okReport));
    await expect(requestAPI('health', settings)).resolves.toEqual(okReport);
    expect(settings.urls[0]).toMatch(
      /^http:\/\/127\.0\.0\.1:8888\/user\/ana\/workbench\/api\/health/
    );
  });

  it("rejects with the server's message and keeps the body", async () => {
    const body = {
      message: 'connection "odoo" not found',
      reason: 'Not Found'
    };
    const settings = settingsAnswering(() => json(404, body));
    const error: APIError = await requestAPI('connections/odoo', settings).then(
      () => Promise.reject(new Error('expected an APIError')),
      e => e
    );
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(404);
    expect(error.message).toBe('connection "odoo" not found');
    expect(error.body).toEqual(body);
  });
});

describe('fetchHealth', () => {
  it('returns the report of a healthy server', async () => {
    const outcome = await fetchHealth(
      settingsAnswering(() => json(200, okReport))
    );
    expect(outcome).toEqual({ kind: 'report', report: okReport });
  });

  it('reads the report sent with HTTP 503', async () => {
    const body = {
      ...okReport,
      status: 'down',
      checks: {
        metadata_db: { status: 'down', detail: 'locked', latency_ms: 3000 }
      }
    };
    const outcome = await fetchHealth(settingsAnswering(() => json(503, body)));
    expect(outcome).toEqual({ kind: 'report', report: body });
  });

  it('counts a network failure as unreachable', async () => {
    const outcome = await fetchHealth(
      settingsAnswering(() => Promise.reject(new TypeError('Failed to fetch')))
    );
    expect(outcome.kind).toBe('unreachable');
  });

  it('counts a refused login as unreachable', async () => {
    const outcome = await fetchHealth(
      settingsAnswering(() => json(403, { message: 'Forbidden' }))
    );
    expect(outcome).toEqual({ kind: 'unreachable', reason: 'Forbidden' });
  });

  it('explains an HTML 404 from a server without the extension', async () => {
    const outcome = await fetchHealth(
      settingsAnswering(() =>
        Promise.resolve(new Response('<html>404</html>', { status: 404 }))
      )
    );
    expect(outcome.kind).toBe('error');
    expect(outcome.kind === 'error' && outcome.status).toBe(404);
  });
});

describe('HealthModel', () => {
  it('polls and tells about a change of state once', async () => {
    const degraded = {
      ...okReport,
      status: 'degraded',
      checks: {
        ...okReport.checks,
        worker: { status: 'down', detail: 'no worker', latency_ms: 1 }
      }
    };
    const answers = [
      () => json(200, okReport),
      () => json(503, degraded),
      () => json(503, degraded)
    ];
    let calls = 0;
    const settings = settingsAnswering(() =>
      answers[Math.min(calls++, answers.length - 1)]()
    );
    const model = new HealthModel({ serverSettings: settings, interval: 20 });
    const changes: HealthModel.IChange[] = [];
    await new Promise<void>(resolve => {
      model.changed.connect((_, change) => {
        changes.push(change);
        if (changes.length === 3) {
          resolve();
        }
      });
    });
    model.dispose();

    expect(changes.map(change => change.current.label)).toEqual([
      'Workbench',
      'Workbench: degraded',
      'Workbench: degraded'
    ]);
    expect(changes.map(change => change.notice?.type ?? null)).toEqual([
      null,
      'warning',
      null
    ]);
    expect(model.isDisposed).toBe(true);
  });

  it('refresh() resolves with the fresh summary', async () => {
    const model = new HealthModel({
      serverSettings: settingsAnswering(() => json(200, okReport)),
      interval: 60 * 1000
    });
    const summary = await model.refresh();
    model.dispose();
    expect(summary.severity).toBe('ok');
  });
});
