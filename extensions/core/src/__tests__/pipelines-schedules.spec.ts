import {
  formatNextRun,
  SCHEDULE_MAX_AGE,
  ScheduleModel,
  timeUntil
} from '../pipelines/schedules';
import { IPipeline, ISchedule, ScheduleAction } from '../pipelines/tokens';

function pipeline(name: string, extra: Partial<IPipeline> = {}): IPipeline {
  return {
    name,
    owner: 'ana',
    current_version: 1,
    description: '',
    steps: ['a'],
    schedule: { cron: '0 6 * * *', timezone: 'UTC' },
    updated_at: '2026-11-01T00:00:00',
    ...extra
  };
}

const HOUR = 3600 * 1000;

class FakeAPI {
  constructor(public now: number) {}
  calls: string[] = [];
  paused = false;
  fail: unknown = null;

  async schedule(name: string): Promise<ISchedule> {
    this.calls.push(`get ${name}`);
    if (this.fail) {
      throw this.fail;
    }
    return this._state();
  }

  async controlSchedule(
    name: string,
    action: ScheduleAction
  ): Promise<ISchedule> {
    this.calls.push(`${action} ${name}`);
    if (this.fail) {
      throw this.fail;
    }
    this.paused =
      action === 'pause' ? true : action === 'resume' ? false : this.paused;
    return this._state();
  }

  private _state(): ISchedule {
    return {
      paused: this.paused,
      note: null,
      next_runs: [new Date(this.now + HOUR).toISOString()],
      recent_runs: [],
      may_change: true
    };
  }
}

describe('ScheduleModel', () => {
  let now: number;
  let api: FakeAPI;
  let model: ScheduleModel;

  beforeEach(() => {
    now = Date.parse('2026-11-26T05:00:00Z');
    api = new FakeAPI(now);
    model = new ScheduleModel(api, () => now);
  });

  it('fetches only pipelines that have a schedule', async () => {
    const scheduled = pipeline('nightly');
    const adhoc = pipeline('adhoc', { schedule: null });
    await model.load([scheduled, adhoc]);
    expect(api.calls).toEqual(['get nightly']);
    expect(model.state(scheduled)).toBe('active');
    expect(model.state(adhoc)).toBe('none');
    expect(model.get('nightly')?.next_runs).toHaveLength(1);
  });

  it('fetches again only when stale, passed, or redeployed', async () => {
    const p = pipeline('nightly');
    await model.load([p]);
    await model.load([p]);
    expect(api.calls).toEqual(['get nightly']);

    now += SCHEDULE_MAX_AGE;
    await model.load([p]);
    expect(api.calls).toHaveLength(2);

    // The next run has passed: a new next run is due.
    api.now = now - 2 * HOUR;
    await model.load([p], true);
    expect(model.isStale(p)).toBe(true);

    const fresh = new ScheduleModel(new FakeAPI(now), () => now);
    await fresh.load([p]);
    expect(fresh.isStale(p)).toBe(false);
    expect(fresh.isStale({ ...p, updated_at: '2026-11-25T00:00:00' })).toBe(
      true
    );
  });

  it('shares one request between callers', async () => {
    const p = pipeline('nightly');
    await Promise.all([model.load([p]), model.load([p])]);
    expect(api.calls).toEqual(['get nightly']);
  });

  it('keeps pause and resume and tells its listeners', async () => {
    const p = pipeline('nightly');
    const changed: string[] = [];
    model.changed.connect((_, name) => changed.push(name));
    await model.load([p]);
    // Its next run is already past: a paused schedule stays as it is.
    api.now = now - 2 * HOUR;
    const paused = await model.control(p, 'pause');
    expect(paused.paused).toBe(true);
    expect(model.state(p)).toBe('paused');
    expect(model.isStale(p)).toBe(false);
    await model.control(p, 'resume');
    expect(model.state(p)).toBe('active');
    expect(changed).toEqual(['nightly', 'nightly', 'nightly']);
    expect(api.calls).toEqual([
      'get nightly',
      'pause nightly',
      'resume nightly'
    ]);
  });

  it('never lets an older fetch undo a pause', async () => {
    const p = pipeline('nightly');
    await model.load([p]);
    now += SCHEDULE_MAX_AGE;
    // A poll asks for the state; its answer (not paused) arrives after the pause.
    let answer: (schedule: ISchedule) => void = () => undefined;
    const slow = new Promise<ISchedule>(resolve => (answer = resolve));
    const before = { ...model.get('nightly')!, paused: false };
    api.schedule = () => slow;
    const polled = model.load([p]);
    await model.control(p, 'pause');
    answer(before);
    await polled;
    expect(model.state(p)).toBe('paused');
  });

  it('keeps a failed fetch as an error and rejects a refused action', async () => {
    const p = pipeline('nightly');
    api.fail = new Error('Temporal is not reachable');
    await expect(model.load([p])).resolves.toBeUndefined();
    expect(model.state(p)).toBe('unknown');
    expect((model.error('nightly') as Error).message).toBe(
      'Temporal is not reachable'
    );
    api.fail = new Error('only ana or an admin may pause');
    await expect(model.control(p, 'pause')).rejects.toThrow('only ana');
  });

  it('forgets the schedule of a pipeline redeployed without one', async () => {
    const p = pipeline('nightly');
    await model.load([p]);
    await model.load([{ ...p, schedule: null }]);
    expect(model.get('nightly')).toBeNull();
  });
});

describe('timeUntil', () => {
  it('says how far away a time is', () => {
    const now = 1_000_000;
    expect(timeUntil(now - 5000, now)).toBe('now');
    expect(timeUntil(now + 40_000, now)).toBe('in 40 s');
    expect(timeUntil(now + 12 * 60_000, now)).toBe('in 12 min');
    expect(timeUntil(now + 3 * HOUR, now)).toBe('in 3 h');
    expect(timeUntil(now + 3 * HOUR + 5 * 60_000, now)).toBe('in 3 h 05 min');
    expect(timeUntil(now + 24 * HOUR, now)).toBe('in 1 day');
    expect(timeUntil(now + 5 * 24 * HOUR, now)).toBe('in 5 days');
  });
});

describe('formatNextRun', () => {
  const now = Date.parse('2026-11-26T05:00:00Z');

  it("gives the time in the schedule's zone, labelled, and the distance", () => {
    const text = formatNextRun('2026-11-26T07:00:00+00:00', now, 'UTC', 'UTC');
    expect(text).toMatch(/07:00( AM)? UTC \(in 2 h\)$/);
    expect(formatNextRun(null, now)).toBe('');
    expect(formatNextRun('soon', now)).toBe('');
  });

  it("labels both zones when the reader's differs from the cron's", () => {
    // 06:00 in Paris is 00:00 in New York: each time says its zone.
    const text = formatNextRun(
      '2026-12-01T05:00:00Z',
      now,
      'Europe/Paris',
      'America/New_York'
    );
    expect(text).toMatch(
      /06:00( AM)? Europe\/Paris \(.*(00|12):00( AM)? America\/New_York, in 5 days\)$/
    );
  });

  it('says UTC once whatever the name of the zone', () => {
    const text = formatNextRun('2026-11-26T07:00:00Z', now, 'UTC', 'Etc/UTC');
    expect(text).toMatch(/07:00( AM)? UTC \(in 2 h\)$/);
  });
});
