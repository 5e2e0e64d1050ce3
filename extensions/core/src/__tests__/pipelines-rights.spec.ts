/**
 * Who may operate a pipeline, and who started or cancelled its runs, as the
 * pipeline view says it.
 */
import { mayOperate, viewOnlyNote } from '../pipelines/rights';
import {
  runCancellation,
  runOrigin,
  runOriginText
} from '../pipelines/runOrigin';
import { IPipeline, IRun } from '../pipelines/tokens';

const PIPELINE: IPipeline = {
  name: 'month_end',
  owner: 'alice',
  current_version: 3,
  description: '',
  steps: ['extract'],
  schedule: null,
  updated_at: '2026-01-01T00:00:00',
  access: { viewers: ['finance'], operators: ['ops'] },
  may_operate: true,
  may_change: false
};

const RUN: IRun = {
  id: '0123456789abcdef0123456789abcdef',
  pipeline: 'month_end',
  version: 3,
  status: 'succeeded',
  trigger: 'manual',
  parameters: {},
  logical_date: '2026-01-31',
  repair_of: null,
  requested_by: 'bob',
  cancelled_by: null,
  created_at: '2026-02-01T06:00:00',
  started_at: null,
  finished_at: null,
  error: null,
  attempts: []
};

describe('mayOperate', () => {
  it('offers run, cancel and repair to operators only', () => {
    expect(mayOperate(PIPELINE)).toBe(true);
    expect(mayOperate({ ...PIPELINE, may_operate: false })).toBe(false);
  });

  it('offers nothing before the pipeline is loaded', () => {
    expect(mayOperate(null)).toBe(false);
  });

  it('leaves it to an older server that does not say', () => {
    const older: IPipeline = { ...PIPELINE };
    delete older.may_operate;
    expect(mayOperate(older)).toBe(true);
  });
});

describe('viewOnlyNote', () => {
  it('tells a viewer why the buttons are missing and whom to ask', () => {
    expect(viewOnlyNote({ ...PIPELINE, may_operate: false })).toBe(
      'View only: to run, cancel or repair runs, ask alice to add one of your groups to its access.operators.'
    );
  });

  it('says nothing to operators, or before the pipeline is loaded', () => {
    expect(viewOnlyNote(PIPELINE)).toBeNull();
    expect(viewOnlyNote(null)).toBeNull();
  });
});

describe('runOrigin', () => {
  it('names the user who started a manual run', () => {
    expect(runOrigin(RUN)).toEqual({ who: 'bob', detail: null });
    expect(runOriginText(RUN)).toBe('bob');
  });

  it('says "schedule" for a schedule firing, not the scheduler account', () => {
    const fired = { ...RUN, trigger: 'schedule', requested_by: 'scheduler' };
    expect(runOrigin(fired)).toEqual({ who: 'schedule', detail: null });
  });

  it('says who repaired a run and which run it repairs', () => {
    const repair = {
      ...RUN,
      trigger: 'repair',
      requested_by: 'carol',
      repair_of: 'fedcba9876543210fedcba9876543210'
    };
    expect(runOrigin(repair)).toEqual({
      who: 'carol',
      detail: 'repair of fedcba98'
    });
    expect(runOriginText(repair)).toBe('carol · repair of fedcba98');
  });

  it('falls back to the trigger for an older server without requested_by', () => {
    const older: IRun = { ...RUN };
    delete older.requested_by;
    expect(runOriginText(older)).toBe('manual');
    expect(
      runOriginText({ ...older, trigger: 'repair', repair_of: RUN.id })
    ).toBe('repair of 01234567');
    expect(runOriginText({ ...older, trigger: 'backfill' })).toBe('backfill');
    expect(runOriginText({ ...RUN, trigger: 'backfill' })).toBe(
      'bob · backfill'
    );
  });
});

describe('runCancellation', () => {
  it('names who cancelled a run', () => {
    const cancelled = { ...RUN, status: 'cancelled', cancelled_by: 'carol' };
    expect(runCancellation(cancelled)).toBe('cancelled by carol');
  });

  it('says a cancel was asked while the run has not stopped', () => {
    const stopping = { ...RUN, status: 'running', cancelled_by: 'carol' };
    expect(runCancellation(stopping)).toBe('cancel asked by carol');
  });

  it('is empty when nobody cancelled it', () => {
    expect(runCancellation(RUN)).toBeNull();
    expect(runCancellation({ ...RUN, status: 'cancelled' })).toBeNull();
  });
});
