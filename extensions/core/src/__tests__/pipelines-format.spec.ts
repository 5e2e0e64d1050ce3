import {
  describeSchedule,
  formatAgo,
  formatDuration,
  formValues,
  formatTime,
  initialParameters,
  latestRuns,
  parseParameterForm,
  parseRunForm,
  readableError,
  runDuration,
  stateLabel,
  stripAnsi
} from '../pipelines/format';
import { IRun } from '../pipelines/tokens';

function run(
  pipeline: string,
  created: string,
  extra: Partial<IRun> = {}
): IRun {
  return {
    id: `${pipeline}-${created}`,
    pipeline,
    version: 1,
    status: 'succeeded',
    trigger: 'manual',
    parameters: {},
    logical_date: '2024-01-31',
    repair_of: null,
    created_at: created,
    started_at: null,
    finished_at: null,
    error: null,
    attempts: [],
    ...extra
  };
}

describe('formatDuration', () => {
  it('reads like people write durations', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(undefined)).toBe('');
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(2 * 3600 + 7 * 60 + 30)).toBe('2 h 07 min');
    expect(formatDuration(-3)).toBe('0 ms');
  });

  it('measures a run from its start to its end, or to now while it runs', () => {
    const finished = run('p', '2024-01-31T10:00:00Z', {
      started_at: '2024-01-31T10:00:00Z',
      finished_at: '2024-01-31T10:01:30Z'
    });
    expect(runDuration(finished)).toBe(90);
    const going = run('p', '2024-01-31T10:00:00Z', {
      started_at: '2024-01-31T10:00:00Z'
    });
    expect(runDuration(going, Date.parse('2024-01-31T10:00:10Z'))).toBe(10);
    expect(runDuration(run('p', '2024-01-31T10:00:00Z'))).toBeNull();
  });

  it('reads a time without an offset as UTC', () => {
    expect(formatTime('2024-01-31T10:00:00')).toBe(
      new Date(Date.UTC(2024, 0, 31, 10)).toLocaleString()
    );
    expect(formatTime(null)).toBe('');
    expect(formatTime('not a time')).toBe('not a time');
  });
});

describe('describeSchedule', () => {
  it('says cron, interval, time zone and pause', () => {
    expect(describeSchedule(null)).toBe('');
    // The zone always: next run times are shown beside the cron.
    expect(describeSchedule({ cron: '0 6 * * *', timezone: 'UTC' })).toBe(
      '0 6 * * * (UTC)'
    );
    expect(describeSchedule({ cron: '0 6 * * *' })).toBe('0 6 * * * (UTC)');
    expect(
      describeSchedule({
        cron: '0 6 1 * *',
        timezone: 'Europe/Paris',
        paused: true
      })
    ).toBe('0 6 1 * * (Europe/Paris) · paused');
    expect(describeSchedule({ cron: null, interval: 'PT15M' })).toBe(
      'every PT15M'
    );
  });
});

describe('stripAnsi', () => {
  it('removes colour escapes from a traceback', () => {
    const traceback =
      '\u001b[0;31mZeroDivisionError\u001b[0m: division by zero\n\u001b[1;32m----> 1\u001b[0m 1/0';
    expect(stripAnsi(traceback)).toBe(
      'ZeroDivisionError: division by zero\n----> 1 1/0'
    );
  });
});

describe('run parameters', () => {
  it('prefills declared parameters with their defaults', () => {
    expect(
      initialParameters(
        {
          month: { type: 'string', default: '2024-01' },
          dry_run: { type: 'boolean' }
        },
        run('p', '2024-01-31T10:00:00', { parameters: { month: 'old' } })
      )
    ).toEqual({ month: '2024-01', dry_run: null });
  });

  it('prefills from the last run when the server sends no declarations', () => {
    expect(
      initialParameters(
        undefined,
        run('p', '2024-01-31T10:00:00', { parameters: { month: '2023-12' } })
      )
    ).toEqual({ month: '2023-12' });
    expect(initialParameters(undefined, null)).toEqual({});
  });

  it('parses a JSON object and a logical date', () => {
    expect(parseRunForm('{"month": "2024-02", "n": 3}', '2024-02-29')).toEqual({
      ok: true,
      parameters: { month: '2024-02', n: 3 },
      logicalDate: '2024-02-29'
    });
    expect(parseRunForm('  ', '')).toEqual({
      ok: true,
      parameters: {},
      logicalDate: null
    });
  });

  it('says what is wrong with the form', () => {
    const bad = parseRunForm('{month: 1}', '');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/not valid JSON/);
    const list = parseRunForm('[1, 2]', '');
    expect(!list.ok && list.error).toMatch(/must be a JSON object/);
    const day = parseRunForm('{}', '2024-02-30');
    expect(!day.ok && day.error).toMatch(/"2024-02-30" is not a date/);
    const missing = parseRunForm('{"month": ""}', '', {
      month: { type: 'string', required: true }
    });
    expect(!missing.ok && missing.error).toBe('Parameter "month" is required');
  });
});

describe('latestRuns', () => {
  it('keeps the newest run of each pipeline, whatever the order', () => {
    const latest = latestRuns([
      run('a', '2024-01-01T00:00:00Z'),
      run('b', '2024-01-02T00:00:00Z'),
      run('a', '2024-01-03T00:00:00Z'),
      run('a', '2024-01-02T00:00:00Z')
    ]);
    expect(latest.get('a')!.created_at).toBe('2024-01-03T00:00:00Z');
    expect(latest.get('b')!.created_at).toBe('2024-01-02T00:00:00Z');
    expect(latest.size).toBe(2);
  });
});

describe('stateLabel', () => {
  it('says what a state means instead of its code', () => {
    expect(stateLabel('upstream_failed')).toBe('skipped: upstream failed');
    expect(stateLabel('timed_out')).toBe('timed out');
    expect(stateLabel('succeeded')).toBe('succeeded');
    expect(stateLabel('none')).toBe('');
  });
});

describe('readableError', () => {
  it("names the kernels' exceptions in words", () => {
    expect(
      readableError("ConnectionError_: connection 'odoo': host not found")
    ).toBe("Connection error: connection 'odoo': host not found");
    expect(readableError('cell 3: LakeError_: no dataset x')).toBe(
      'cell 3: LakeError: no dataset x'
    );
    expect(readableError('KeyError: amount_')).toBe('KeyError: amount_');
  });
});

describe('formatAgo', () => {
  const now = Date.parse('2026-11-26T12:00:00Z');

  it('says how long ago, briefly', () => {
    expect(formatAgo('2026-11-26T11:59:40Z', now)).toBe('just now');
    expect(formatAgo('2026-11-26T11:48:00Z', now)).toBe('12 min ago');
    // SQLite's times came without a zone: they are UTC.
    expect(formatAgo('2026-11-26T09:00:00', now)).toBe('3 h ago');
    expect(formatAgo('2026-11-25T11:00:00Z', now)).toBe('1 day ago');
    expect(formatAgo('2026-11-21T12:00:00Z', now)).toBe('5 days ago');
    expect(formatAgo(null, now)).toBe('');
  });
});

describe('the run form of typed parameters', () => {
  const declared = {
    company_id: {
      type: 'integer',
      default: 1,
      description: 'Odoo company',
      required: true
    },
    tolerance: { type: 'number', default: 0.01 },
    dry_run: { type: 'boolean', default: false },
    period_end: { type: 'date' },
    lake_root: { type: 'string', default: '' }
  };

  it('starts from the defaults, or the values given', () => {
    expect(formValues(declared, {})).toEqual({
      company_id: '1',
      tolerance: '0.01',
      dry_run: false,
      period_end: '',
      lake_root: ''
    });
    expect(formValues(declared, { company_id: 3, dry_run: true })).toEqual(
      expect.objectContaining({ company_id: '3', dry_run: true })
    );
  });

  it('gives each parameter its type', () => {
    expect(
      parseParameterForm(
        {
          company_id: '3',
          tolerance: '0.5',
          dry_run: true,
          period_end: '2024-01-31',
          lake_root: '/data/lake'
        },
        declared
      )
    ).toEqual({
      ok: true,
      parameters: {
        company_id: 3,
        tolerance: 0.5,
        dry_run: true,
        period_end: '2024-01-31',
        lake_root: '/data/lake'
      }
    });
  });

  it('leaves out an empty optional field, so the default applies', () => {
    const parsed = parseParameterForm(
      { ...formValues(declared, {}), tolerance: ' ' },
      declared
    );
    expect(parsed).toEqual({
      ok: true,
      parameters: { company_id: 1, dry_run: false, lake_root: '' }
    });
  });

  it('names the parameter whose value does not fit', () => {
    const base = formValues(declared, {});
    expect(
      parseParameterForm({ ...base, company_id: 'abc' }, declared)
    ).toEqual({
      ok: false,
      error: 'Parameter "company_id" must be a whole number, not "abc"'
    });
    expect(parseParameterForm({ ...base, company_id: '' }, declared)).toEqual({
      ok: false,
      error: 'Parameter "company_id" is required'
    });
    expect(
      parseParameterForm({ ...base, period_end: '31/01/2024' }, declared)
    ).toEqual({
      ok: false,
      error:
        'Parameter "period_end" must be a date like 2024-01-31, not "31/01/2024"'
    });
    expect(parseParameterForm({ ...base, tolerance: 'x' }, declared)).toEqual({
      ok: false,
      error: 'Parameter "tolerance" must be a number, not "x"'
    });
  });
});

describe('parseParameterForm with a decimal parameter', () => {
  const declared = { amount: { type: 'decimal', required: true } };

  it('sends the amount as written, not through a JS number', () => {
    expect(
      parseParameterForm({ amount: ' 12345678901234567.10 ' }, declared)
    ).toEqual({ ok: true, parameters: { amount: '12345678901234567.10' } });
  });

  it('names the parameter whose value is not a decimal number', () => {
    for (const bad of ['NaN', 'Infinity', '1,5', '12abc']) {
      expect(parseParameterForm({ amount: bad }, declared)).toEqual({
        ok: false,
        error: `Parameter "amount" must be a decimal number like 1234567.10, not "${bad}"`
      });
    }
  });
});
