/**
 * Formatting and parsing for the pipelines panel: durations, times, ANSI
 * escapes in tracebacks, and the run dialog's parameters.
 */
import { IParameterSpec, IRun } from './tokens';

/**
 * A duration in seconds as people read it: `850 ms`, `42 s`, `3 min 05 s`,
 * `2 h 07 min`; empty when unknown.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 0) {
    seconds = 0;
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const total = Math.round(seconds);
  if (total < 3600) {
    const s = total % 60;
    return `${Math.floor(total / 60)} min ${String(s).padStart(2, '0')} s`;
  }
  const minutes = Math.floor(total / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/**
 * How long a run took, or has been running until `now` (epoch ms).
 */
export function runDuration(
  run: IRun,
  now: number = Date.now()
): number | null {
  const start = run.started_at ?? null;
  if (!start) {
    return null;
  }
  const end = run.finished_at ? Date.parse(run.finished_at) : now;
  return (end - Date.parse(start)) / 1000;
}

/**
 * A server timestamp in the reader's locale; the server sends naive UTC
 * times for SQLite, so a time without an offset is read as UTC.
 */
export function formatTime(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  const parsed = Date.parse(hasZone(value) ? value : `${value}Z`);
  if (isNaN(parsed)) {
    return value;
  }
  return new Date(parsed).toLocaleString();
}

function hasZone(value: string): boolean {
  return /(Z|[+-]\d\d:?\d\d)$/.test(value);
}

/**
 * A schedule (`ScheduleSpec`) in a few words: `0 6 * * * (Europe/Paris)`,
 * `every 15m`, with `paused` when it is.
 */
export function describeSchedule(
  schedule: { [key: string]: unknown } | null
): string {
  if (!schedule) {
    return '';
  }
  let text = '';
  if (typeof schedule.cron === 'string') {
    text = schedule.cron;
    if (typeof schedule.timezone === 'string' && schedule.timezone !== 'UTC') {
      text += ` (${schedule.timezone})`;
    }
  } else if (schedule.interval !== null && schedule.interval !== undefined) {
    text = `every ${String(schedule.interval)}`;
  }
  return schedule.paused ? `${text} · paused`.trim() : text;
}

/**
 * A traceback as plain text: ANSI colour and cursor escapes removed.
 */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g, '');
}

/**
 * The prefill of the run dialog: declared parameters with their defaults,
 * else the parameters of the last run.
 */
export function initialParameters(
  declared: { [name: string]: IParameterSpec } | undefined,
  lastRun: IRun | null
): { [name: string]: unknown } {
  if (declared && Object.keys(declared).length > 0) {
    const values: { [name: string]: unknown } = {};
    for (const [name, spec] of Object.entries(declared)) {
      values[name] = spec.default ?? null;
    }
    return values;
  }
  return { ...(lastRun?.parameters ?? {}) };
}

/**
 * What the run dialog gives: parameters and an optional logical date, or the
 * reason they cannot be sent.
 */
export type ParsedRun =
  | {
      ok: true;
      parameters: { [name: string]: unknown };
      logicalDate: string | null;
    }
  | { ok: false; error: string };

/**
 * Parse the run dialog's fields: a JSON object of parameters (empty means
 * none) and a logical date `YYYY-MM-DD` (empty means today, on the server).
 * Declared required parameters must be given.
 */
export function parseRunForm(
  parametersText: string,
  dateText: string,
  declared?: { [name: string]: IParameterSpec }
): ParsedRun {
  let parameters: { [name: string]: unknown } = {};
  const text = parametersText.trim();
  if (text) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return {
        ok: false,
        error: `Parameters are not valid JSON: ${(error as Error).message}`
      };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return {
        ok: false,
        error: 'Parameters must be a JSON object, e.g. {"month": "2024-01"}'
      };
    }
    parameters = value as { [name: string]: unknown };
  }
  for (const [name, spec] of Object.entries(declared ?? {})) {
    const given = parameters[name];
    if (
      spec.required &&
      (given === undefined || given === null || given === '')
    ) {
      return { ok: false, error: `Parameter "${name}" is required` };
    }
  }
  const day = dateText.trim();
  if (day && !isDate(day)) {
    return {
      ok: false,
      error: `Logical date "${day}" is not a date like 2024-01-31`
    };
  }
  return { ok: true, parameters, logicalDate: day || null };
}

function isDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    return false;
  }
  const parsed = new Date(`${text}T00:00:00Z`);
  return !isNaN(parsed.getTime()) && parsed.toISOString().startsWith(text);
}

/**
 * The newest run of each pipeline among `runs` (which may be in any order).
 */
export function latestRuns(runs: IRun[]): Map<string, IRun> {
  const latest = new Map<string, IRun>();
  for (const run of runs) {
    const seen = latest.get(run.pipeline);
    if (!seen || Date.parse(run.created_at) > Date.parse(seen.created_at)) {
      latest.set(run.pipeline, run);
    }
  }
  return latest;
}

/**
 * The short form of a run id shown in the panel (its first 8 characters).
 */
export function shortRunId(id: string): string {
  return id.slice(0, 8);
}
