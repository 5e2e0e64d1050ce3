import { nullTranslator } from '@jupyterlab/translation';

import {
  formatRate,
  labelText,
  queueBacklog,
  rateLevel,
  silenceOf,
  slaState,
  slaText,
  sparklinePath,
  trendBars
} from '../operations/format';
import { IAlert, IBucket, IPipelineOps, ISilence } from '../operations/tokens';

const trans = nullTranslator.load('workbench');
const NOW = Date.parse('2026-12-06T16:00:00Z');

function alert(rule: string, labels: { [k: string]: string }): IAlert {
  return {
    id: 1,
    dedup_key: `${rule}{}`,
    rule,
    severity: 'P1',
    labels,
    summary: '',
    status: 'firing',
    started_at: '2026-12-06T15:00:00Z',
    resolved_at: null,
    acknowledged_by: null,
    acknowledged_at: null,
    history: []
  };
}

function silence(
  id: number,
  rule: string | null,
  labels: { [k: string]: string },
  ends = '2026-12-06T17:00:00Z',
  active = true
): ISilence {
  return {
    id,
    rule,
    labels,
    ends_at: ends,
    comment: '',
    created_by: 'admin',
    created_at: '2026-12-06T15:00:00Z',
    active
  };
}

function pipeline(extra: Partial<IPipelineOps> = {}): IPipelineOps {
  return {
    pipeline: 'close',
    runs: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    success_rate: null,
    p50_s: null,
    p95_s: null,
    max_s: null,
    active: 0,
    last_status: null,
    last_finished_at: null,
    sla: null,
    sla_misses: 0,
    trend_p50_s: [],
    ...extra
  };
}

describe('formatRate and rateLevel', () => {
  it('shows a percentage that never rounds up to the goal', () => {
    expect(formatRate(1)).toBe('100 %');
    expect(formatRate(5 / 6)).toBe('83.3 %');
    expect(formatRate(0.9996)).toBe('99.9 %');
    expect(formatRate(0)).toBe('0 %');
    expect(formatRate(null)).toBe('—');
  });

  it('compares with the plan goal of 99 %', () => {
    expect(rateLevel(0.99)).toBe('ok');
    expect(rateLevel(0.97)).toBe('warn');
    expect(rateLevel(0.5)).toBe('bad');
    expect(rateLevel(null)).toBe('none');
  });
});

describe('silenceOf', () => {
  const failed = alert('PipelineFailed', { pipeline: 'close' });

  it('matches by rule and every label of the silence, as the engine does', () => {
    const other = silence(1, 'PipelineFailed', { pipeline: 'ledger' });
    const any = silence(2, null, { pipeline: 'close' });
    expect(silenceOf(failed, [other, any], NOW)?.id).toBe(2);
    expect(silenceOf(failed, [silence(3, 'DiskSpace', {})], NOW)).toBeNull();
    expect(silenceOf(failed, [silence(4, 'PipelineFailed', {})], NOW)?.id).toBe(
      4
    );
  });

  it('ignores silences that ended', () => {
    const ended = silence(5, null, {}, '2026-12-06T15:59:00Z');
    const stopped = silence(6, null, {}, '2026-12-06T17:00:00Z', false);
    expect(silenceOf(failed, [ended, stopped], NOW)).toBeNull();
  });
});

describe('SLA and queue texts', () => {
  it('says the SLA in words', () => {
    const sla = { finish_by: '06:00', max_duration: '30m', timezone: 'UTC' };
    expect(slaText(sla, trans)).toBe('done by 06:00 UTC · within 30m');
    expect(slaText(null, trans)).toBe('');
  });

  it('puts a risk before a miss, and no SLA apart', () => {
    const sla = { finish_by: '06:00', max_duration: null, timezone: 'UTC' };
    const risk = {
      pipeline: 'close',
      upstream: 'load',
      reason: 'failed',
      since: '2026-12-06T15:00:00Z',
      deadline: null
    };
    expect(slaState(pipeline({ sla, sla_misses: 2 }), [risk])).toBe('at-risk');
    expect(slaState(pipeline({ sla, sla_misses: 2 }), [])).toBe('missed');
    expect(slaState(pipeline({ sla }), [])).toBe('ok');
    expect(slaState(pipeline(), [])).toBe('none');
  });

  it('adds up the backlog, or says there are no figures', () => {
    const types = [
      { type: 'workflow', backlog: 2, oldest_s: 3, pollers: 1 },
      { type: 'activity', backlog: 5, oldest_s: 9, pollers: 1 }
    ];
    expect(queueBacklog({ task_queue: 'q', types, detail: null })).toBe(7);
    expect(queueBacklog({ task_queue: 'q', types: [], detail: 'x' })).toBe(
      null
    );
  });

  it('lists labels sorted', () => {
    expect(labelText({ volume: 'lake', b: '1' })).toBe('b=1, volume=lake');
  });
});

describe('chart geometry', () => {
  it('draws a sparkline scaled to the largest value, broken at gaps', () => {
    expect(sparklinePath([], 80, 16)).toBe('');
    expect(sparklinePath([null, null], 80, 16)).toBe('');
    expect(sparklinePath([10, 20, null, 5, 10], 80, 16)).toBe(
      'M0 8 L20 0 M60 12 L80 8'
    );
    // A lone value between gaps is still drawn.
    expect(sparklinePath([null, 4, null], 80, 16)).toBe('M40 0 l0.01 0');
  });

  it('stacks bars so the busiest bucket fills the height', () => {
    const bucket = (s: number, f: number, c: number): IBucket => ({
      start: '2026-12-06T00:00:00Z',
      runs: s + f + c,
      succeeded: s,
      failed: f,
      cancelled: c,
      success_rate: null,
      p50_s: null,
      p95_s: null,
      max_s: null
    });
    expect(
      trendBars([bucket(3, 1, 0), bucket(1, 0, 1), bucket(0, 0, 0)], 80)
    ).toEqual([
      { succeeded: 60, failed: 20, cancelled: 0 },
      { succeeded: 20, failed: 0, cancelled: 20 },
      { succeeded: 0, failed: 0, cancelled: 0 }
    ]);
  });
});
