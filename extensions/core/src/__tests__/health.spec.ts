import {
  classifyAnswer,
  formatLatency,
  IHealthSummary,
  noticeFor,
  parseHealthReport,
  partName,
  summarizeHealth
} from '../health';
import { IHealthReport } from '../tokens';

function report(overrides: Partial<IHealthReport> = {}): IHealthReport {
  return {
    status: 'ok',
    version: '0.1.0',
    checks: {
      worker: {
        status: 'ok',
        detail: "1 worker(s) polling task queue 'workbench'",
        latency_ms: 12.46
      },
      temporal: {
        status: 'ok',
        detail: '127.0.0.1:7233, namespace default',
        latency_ms: 3.21
      },
      metadata_db: {
        status: 'ok',
        detail: 'sqlite, schema revision 0001',
        latency_ms: 1.2
      }
    },
    ...overrides
  };
}

function degraded(): IHealthReport {
  const body = report({ status: 'degraded' });
  body.checks.temporal = {
    status: 'down',
    detail: 'no answer within 3 s',
    latency_ms: 3000.4
  };
  body.checks.worker = {
    status: 'down',
    detail: "no worker is polling task queue 'workbench'",
    latency_ms: 0.4
  };
  return body;
}

function summaryOf(status: number, body: unknown): IHealthSummary {
  return summarizeHealth(classifyAnswer(status, body));
}

describe('parseHealthReport', () => {
  it('accepts the server health report', () => {
    const body = report();
    expect(parseHealthReport(body)).toBe(body);
  });

  it.each([
    ['null', null],
    ['a string', '<html>Not Found</html>'],
    ['an array', []],
    ['an error body', { message: 'boom', reason: 'Internal Server Error' }],
    ['an unknown status', { ...report(), status: 'sleepy' }],
    ['a missing version', { status: 'ok', checks: {} }],
    [
      'a malformed check',
      { ...report(), checks: { temporal: { status: 'ok' } } }
    ]
  ])('rejects %s', (_, body) => {
    expect(parseHealthReport(body)).toBeNull();
  });
});

describe('classifyAnswer', () => {
  it('reads a report from HTTP 200 and from HTTP 503', () => {
    expect(classifyAnswer(200, report()).kind).toBe('report');
    expect(classifyAnswer(503, degraded()).kind).toBe('report');
  });

  it.each([401, 403])('counts HTTP %i as unreachable', status => {
    const outcome = classifyAnswer(status, { message: 'Forbidden' });
    expect(outcome).toEqual({ kind: 'unreachable', reason: 'Forbidden' });
  });

  it('explains a missing server extension on a bare 404', () => {
    const outcome = classifyAnswer(404, '<html>404 : Not Found</html>');
    expect(outcome.kind).toBe('error');
    expect(outcome.kind === 'error' && outcome.message).toContain(
      'jupyter server extension enable workbench_server'
    );
  });

  it("passes on the server's message for other errors", () => {
    const outcome = classifyAnswer(500, {
      message: 'internal error; the server log has the details (ref 1a2b)',
      reason: 'Internal Server Error'
    });
    expect(outcome).toEqual({
      kind: 'error',
      status: 500,
      message: 'internal error; the server log has the details (ref 1a2b)'
    });
  });

  it('treats a 503 without a report as an error', () => {
    const outcome = classifyAnswer(503, { message: 'starting up' });
    expect(outcome).toEqual({
      kind: 'error',
      status: 503,
      message: 'starting up'
    });
  });

  it('reports an unreadable 200 answer as a version mismatch', () => {
    const outcome = classifyAnswer(200, { healthy: true });
    expect(outcome.kind === 'error' && outcome.message).toContain(
      'versions match'
    );
  });
});

describe('summarizeHealth', () => {
  it('shows a plain label when every part is ok', () => {
    const summary = summaryOf(200, report());
    expect(summary.label).toBe('Workbench');
    expect(summary.severity).toBe('ok');
    expect(summary.version).toBe('0.1.0');
    expect(summary.title).toBe('Workbench 0.1.0: all 3 parts are ok.');
  });

  it('lists known parts first, in a fixed order, with readable names', () => {
    const body = report();
    body.checks.object_store = {
      status: 'ok',
      detail: 'minio',
      latency_ms: 4
    };
    const lines = summaryOf(200, body).lines;
    expect(lines.map(line => line.name)).toEqual([
      'Metadata DB',
      'Temporal',
      'Pipeline worker',
      'Object store'
    ]);
    expect(lines[0]).toEqual({
      id: 'metadata_db',
      name: 'Metadata DB',
      status: 'ok',
      severity: 'ok',
      detail: 'sqlite, schema revision 0001',
      latency: '1.2 ms'
    });
  });

  it('names the failing parts and why when degraded', () => {
    const summary = summaryOf(503, degraded());
    expect(summary.label).toBe('Workbench: degraded');
    expect(summary.severity).toBe('warning');
    expect(summary.title).toBe(
      'Workbench 0.1.0 is degraded: Temporal, Pipeline worker down.'
    );
    expect(summary.problems).toEqual([
      'Temporal: no answer within 3 s',
      "Pipeline worker: no worker is polling task queue 'workbench'"
    ]);
    expect(summary.lines.map(line => line.severity)).toEqual([
      'ok',
      'error',
      'error'
    ]);
  });

  it('marks a server whose parts are all down as an error', () => {
    const body = report({ status: 'down' });
    for (const check of Object.values(body.checks)) {
      check.status = 'down';
    }
    const summary = summaryOf(503, body);
    expect(summary.label).toBe('Workbench: down');
    expect(summary.severity).toBe('error');
    expect(summary.title).toBe(
      'Workbench 0.1.0 is down: Metadata DB, Temporal, Pipeline worker down.'
    );
  });

  it('says unreachable with the reason', () => {
    const summary = summarizeHealth({
      kind: 'unreachable',
      reason: 'no answer from the Jupyter server'
    });
    expect(summary.label).toBe('Workbench: unreachable');
    expect(summary.severity).toBe('error');
    expect(summary.title).toBe(
      'The workbench server is unreachable: no answer from the Jupyter server'
    );
    expect(summary.lines).toEqual([]);
  });

  it('shows the HTTP status of an error in the label', () => {
    const summary = summaryOf(404, '');
    expect(summary.label).toBe('Workbench: error 404');
    expect(summary.severity).toBe('error');
  });

  it('is neutral before the first answer', () => {
    const summary = summarizeHealth({ kind: 'pending' });
    expect(summary.severity).toBe('unknown');
    expect(summary.label).toBe('Workbench');
  });
});

describe('noticeFor', () => {
  const pending = summarizeHealth({ kind: 'pending' });
  const ok = summaryOf(200, report());
  const bad = summaryOf(503, degraded());
  const unreachable = summarizeHealth({ kind: 'unreachable', reason: 'x' });

  it('stays quiet on a healthy start', () => {
    expect(noticeFor(null, ok)).toBeNull();
    expect(noticeFor(pending, ok)).toBeNull();
  });

  it('warns when the server becomes degraded, with the reason', () => {
    expect(noticeFor(ok, bad)).toEqual({ type: 'warning', message: bad.title });
  });

  it('reports a problem already present at start', () => {
    expect(noticeFor(pending, unreachable)).toEqual({
      type: 'error',
      message: unreachable.title
    });
  });

  it('does not repeat the same state at every poll', () => {
    expect(noticeFor(bad, summaryOf(503, degraded()))).toBeNull();
    expect(noticeFor(unreachable, unreachable)).toBeNull();
  });

  it('notifies when a different part fails', () => {
    const other = degraded();
    other.checks.worker.status = 'ok';
    expect(noticeFor(bad, summaryOf(503, other))).not.toBeNull();
  });

  it('stays quiet while the worker starts after the URL, and when it is up', () => {
    // `workbench up` prints its URL before the worker's first poll: a page
    // opened at once saw "Pipeline worker down", then "healthy again".
    const body = report({ status: 'starting' });
    body.checks.worker = {
      status: 'starting',
      detail:
        'starting since 2026-12-07T08:00:00+00:00; runs requested meanwhile wait',
      latency_ms: 0.3
    };
    const starting = summaryOf(200, body);
    expect(starting.label).toBe('Workbench: starting');
    expect(starting.severity).toBe('unknown');
    expect(starting.problems).toEqual([
      `Pipeline worker: ${body.checks.worker.detail}`
    ]);
    expect(noticeFor(pending, starting)).toBeNull();
    expect(noticeFor(starting, ok)).toBeNull();
    // A part that fails while another starts is still news.
    expect(noticeFor(starting, bad)).not.toBeNull();
  });

  it('announces recovery', () => {
    expect(noticeFor(bad, ok)).toEqual({
      type: 'success',
      message: 'The workbench is healthy again.'
    });
  });
});

describe('formatLatency', () => {
  it.each([
    [1.234, '1.2 ms'],
    [9.96, '10.0 ms'],
    [12.5, '13 ms'],
    [3000.4, '3000 ms'],
    [null, ''],
    [undefined, ''],
    [Number.NaN, '']
  ])('formats %p as %p', (input, expected) => {
    expect(formatLatency(input)).toBe(expected);
  });
});

describe('partName', () => {
  it('makes unknown keys readable', () => {
    expect(partName('lake-storage')).toBe('Lake storage');
    expect(partName('temporal')).toBe('Temporal');
  });
});
