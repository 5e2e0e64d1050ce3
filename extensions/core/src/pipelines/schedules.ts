/**
 * Pipeline schedules as the panel and the views show them: one cache of each
 * scheduled pipeline's Temporal Schedule (paused, next runs), shared so that
 * a pause in a view shows in the sidebar at once, and fetched rarely (each
 * fetch is a Temporal describe call).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IPipeline, ISchedule, ScheduleAction } from './tokens';

/**
 * How long a fetched schedule is shown before it is fetched again, in ms
 * (sooner when its next run has passed or the pipeline was redeployed).
 */
export const SCHEDULE_MAX_AGE = 30000;

/**
 * How a pipeline's schedule is shown: none declared, running, paused, or not
 * known yet (or not readable).
 */
export type ScheduleState = 'none' | 'active' | 'paused' | 'unknown';

/**
 * The part of the REST client the schedules need.
 */
export interface IScheduleAPI {
  schedule(name: string): Promise<ISchedule>;
  controlSchedule(name: string, action: ScheduleAction): Promise<ISchedule>;
}

interface IEntry {
  schedule: ISchedule | null;
  error: unknown;
  fetchedAt: number;
  version: string;
}

/**
 * The schedules of the pipelines, fetched on demand and cached.
 */
export class ScheduleModel {
  /**
   * Create the cache; `now` is the clock (epoch ms), for tests.
   */
  constructor(api: IScheduleAPI, now: () => number = Date.now) {
    this._api = api;
    this._now = now;
  }

  /**
   * Emits the name of a pipeline whose schedule was fetched or changed.
   */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /**
   * The schedule of `name` as last fetched, or null.
   */
  get(name: string): ISchedule | null {
    return this._entries.get(name)?.schedule ?? null;
  }

  /**
   * Why the schedule of `name` could not be fetched last time, or null.
   */
  error(name: string): unknown {
    return this._entries.get(name)?.error ?? null;
  }

  /**
   * How the schedule of `pipeline` is to be shown.
   */
  state(pipeline: IPipeline): ScheduleState {
    if (!pipeline.schedule) {
      return 'none';
    }
    const schedule = this.get(pipeline.name);
    if (!schedule) {
      return 'unknown';
    }
    return schedule.paused ? 'paused' : 'active';
  }

  /**
   * Whether the schedule of `pipeline` is to be fetched (again).
   */
  isStale(pipeline: IPipeline): boolean {
    const entry = this._entries.get(pipeline.name);
    if (!entry || entry.version !== pipeline.updated_at) {
      return true;
    }
    const now = this._now();
    if (now - entry.fetchedAt >= SCHEDULE_MAX_AGE) {
      return true;
    }
    const next = entry.schedule?.next_runs[0];
    return !!next && !entry.schedule?.paused && Date.parse(next) <= now;
  }

  /**
   * Fetch the schedules of those `pipelines` that have one and are stale (all
   * of them with `force`); forget those of pipelines without one. Failures
   * are kept (see `error`), never thrown.
   */
  async load(pipelines: IPipeline[], force = false): Promise<void> {
    const wanted: IPipeline[] = [];
    for (const pipeline of pipelines) {
      if (!pipeline.schedule) {
        if (this._entries.delete(pipeline.name)) {
          this._changed.emit(pipeline.name);
        }
      } else if (force || this.isStale(pipeline)) {
        wanted.push(pipeline);
      }
    }
    await Promise.all(wanted.map(pipeline => this._fetch(pipeline)));
  }

  /**
   * Pause, resume or trigger the schedule of `pipeline`; resolves with its
   * new state, rejects with the server's error (nothing is cached then).
   */
  async control(
    pipeline: IPipeline,
    action: ScheduleAction
  ): Promise<ISchedule> {
    // A fetch sent before this answer would bring back the state before it.
    this._bump(pipeline.name);
    const schedule = await this._api.controlSchedule(pipeline.name, action);
    this._bump(pipeline.name);
    this._set(pipeline, schedule, null);
    return schedule;
  }

  private _fetch(pipeline: IPipeline): Promise<void> {
    // One request per pipeline at a time: the panel and a view both ask.
    const name = pipeline.name;
    let pending = this._pending.get(name);
    if (!pending) {
      const generation = this._generations.get(name) ?? 0;
      const keep = (schedule: ISchedule | null, error: unknown) => {
        if ((this._generations.get(name) ?? 0) === generation) {
          this._set(pipeline, schedule, error);
        }
      };
      pending = this._api
        .schedule(name)
        .then(
          schedule => keep(schedule, null),
          error => keep(null, error)
        )
        .finally(() => this._pending.delete(name));
      this._pending.set(name, pending);
    }
    return pending;
  }

  private _bump(name: string): void {
    this._generations.set(name, (this._generations.get(name) ?? 0) + 1);
    this._pending.delete(name);
  }

  private _set(
    pipeline: IPipeline,
    schedule: ISchedule | null,
    error: unknown
  ): void {
    this._entries.set(pipeline.name, {
      schedule,
      error,
      fetchedAt: this._now(),
      version: pipeline.updated_at
    });
    this._changed.emit(pipeline.name);
  }

  private _api: IScheduleAPI;
  private _changed = new Signal<this, string>(this);
  private _entries = new Map<string, IEntry>();
  private _generations = new Map<string, number>();
  private _now: () => number;
  private _pending = new Map<string, Promise<void>>();
}

/**
 * How far away a time is, as people say it: `in 40 s`, `in 12 min`,
 * `in 3 h 05 min`, `in 5 days`; `now` once it has passed.
 */
export function timeUntil(target: number, now: number): string {
  const seconds = Math.round((target - now) / 1000);
  if (seconds <= 0) {
    return 'now';
  }
  if (seconds < 60) {
    return `in ${seconds} s`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `in ${minutes} min`;
  }
  if (minutes < 24 * 60) {
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    return rest
      ? `in ${hours} h ${String(rest).padStart(2, '0')} min`
      : `in ${hours} h`;
  }
  const days = Math.round(minutes / (24 * 60));
  return days === 1 ? 'in 1 day' : `in ${days} days`;
}

/**
 * The browser's time zone (IANA name), e.g. `Europe/Berlin`.
 */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/**
 * A time as a short date and time in a time zone, labelled with the zone:
 * `Mon, 1 Dec, 06:00 Europe/Paris`; the browser's zone when none is given.
 */
export function formatInZone(when: number, zone: string): string {
  let text: string;
  try {
    text = new Date(when).toLocaleString(undefined, {
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      timeZone: zone
    });
  } catch {
    // An unknown zone name: the browser's own, labelled as such.
    return formatInZone(when, browserZone());
  }
  return `${text} ${zone}`;
}

/**
 * A next run time, labelled with its zones, and how far away it is: in the
 * schedule's zone (that of its cron) and, when the reader's zone differs, in
 * theirs too, e.g. `Mon, 1 Dec, 06:00 Europe/Paris (00:00 America/New_York,
 * in 5 days)`; empty when not a time.
 */
export function formatNextRun(
  iso: string | null | undefined,
  now: number = Date.now(),
  zone: string = 'UTC',
  localZone: string = browserZone()
): string {
  const when = iso ? Date.parse(iso) : NaN;
  if (isNaN(when)) {
    return '';
  }
  const until = timeUntil(when, now);
  const scheduled = formatInZone(when, zone);
  if (sameZone(zone, localZone)) {
    return `${scheduled} (${until})`;
  }
  return `${scheduled} (${formatInZone(when, localZone)}, ${until})`;
}

/**
 * Whether two zone names are the same zone (`UTC` is also `Etc/UTC`).
 */
function sameZone(a: string, b: string): boolean {
  const name = (zone: string) => zone.replace(/^Etc\//, '');
  return name(a) === name(b);
}
