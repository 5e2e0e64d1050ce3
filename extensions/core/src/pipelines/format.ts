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
    // Always with its zone: next run times are shown beside it.
    text = `${schedule.cron} (${scheduleZone(schedule)})`;
  } else if (schedule.interval !== null && schedule.interval !== undefined) {
    text = `every ${String(schedule.interval)}`;
  }
  return schedule.paused ? `${text} · paused`.trim() : text;
}

/**
 * The time zone a schedule's cron is read in (the spec's default is UTC).
 */
export function scheduleZone(
  schedule: { [key: string]: unknown } | null
): string {
  const zone = schedule?.timezone;
  return typeof zone === 'string' && zone ? zone : 'UTC';
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

/**
 * A step or run state as people read it: `upstream_failed` is a step that
 * did not run because a step it depends on failed.
 */
export function stateLabel(state: string): string {
  switch (state) {
    case 'upstream_failed':
      return 'skipped: upstream failed';
    case 'none':
      return '';
    default:
      return state.replace(/_/g, ' ');
  }
}

/**
 * An error message as people read it: the kernels' own exception classes
 * end with `_` (not to shadow Python's), e.g. `ConnectionError_`, which
 * means nothing to a reader.
 */
export function readableError(text: string): string {
  return text
    .replace(/\bConnectionError_(?=\W|$)/g, 'Connection error')
    .replace(/\b([A-Z][A-Za-z]*(?:Error|Exception))_(?=\W|$)/g, '$1');
}

/**
 * How long ago a server time was, short enough for the sidebar: `just now`,
 * `12 min ago`, `3 h ago`, `5 days ago`, else the date; empty when unknown.
 */
export function formatAgo(
  value: string | null | undefined,
  now: number = Date.now()
): string {
  if (!value) {
    return '';
  }
  const when = Date.parse(hasZone(value) ? value : `${value}Z`);
  if (isNaN(when)) {
    return value;
  }
  const minutes = Math.floor((now - when) / 60000);
  if (minutes < 1) {
    return 'just now';
  }
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours} h ago`;
  }
  const days = Math.floor(hours / 24);
  if (days < 14) {
    return days === 1 ? '1 day ago' : `${days} days ago`;
  }
  return new Date(when).toLocaleDateString();
}

/**
 * The run form's fields as typed: text for most types, a flag for booleans.
 */
export type FormValues = { [name: string]: string | boolean };

/**
 * The run form's first values: each declared parameter's default (or the
 * value `initial` gives it), as its input shows it.
 */
export function formValues(
  declared: { [name: string]: IParameterSpec },
  initial: { [name: string]: unknown }
): FormValues {
  const values: FormValues = {};
  for (const [name, spec] of Object.entries(declared)) {
    const value = name in initial ? initial[name] : spec.default;
    if (spec.type === 'boolean') {
      values[name] = value === true || value === 'true';
    } else {
      values[name] = value === null || value === undefined ? '' : String(value);
    }
  }
  return values;
}

/**
 * The declared parameters from the run form's fields, each of its type, or
 * the first problem, naming the parameter. An empty optional field is left
 * out, so the pipeline's default applies.
 */
export function parseParameterForm(
  values: FormValues,
  declared: { [name: string]: IParameterSpec }
):
  | { ok: true; parameters: { [name: string]: unknown } }
  | { ok: false; error: string } {
  const parameters: { [name: string]: unknown } = {};
  for (const [name, spec] of Object.entries(declared)) {
    const raw = values[name];
    if (spec.type === 'boolean') {
      parameters[name] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (!text) {
      if (spec.required) {
        return { ok: false, error: `Parameter "${name}" is required` };
      }
      if (spec.type === 'string' && typeof raw === 'string') {
        parameters[name] = raw; // an empty text is a value of its own
      }
      continue;
    }
    switch (spec.type) {
      case 'integer':
        if (!/^[-+]?\d+$/.test(text)) {
          return {
            ok: false,
            error: `Parameter "${name}" must be a whole number, not "${text}"`
          };
        }
        parameters[name] = parseInt(text, 10);
        break;
      case 'number': {
        const number = Number(text);
        if (!isFinite(number)) {
          return {
            ok: false,
            error: `Parameter "${name}" must be a number, not "${text}"`
          };
        }
        parameters[name] = number;
        break;
      }
      case 'decimal':
        // Sent as its text: a JS number would round 12345678901234567.89.
        if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
          return {
            ok: false,
            error: `Parameter "${name}" must be a decimal number like 1234567.10, not "${text}"`
          };
        }
        parameters[name] = text;
        break;
      case 'date':
        if (!isDate(text)) {
          return {
            ok: false,
            error: `Parameter "${name}" must be a date like 2024-01-31, not "${text}"`
          };
        }
        parameters[name] = text;
        break;
      default:
        parameters[name] = typeof raw === 'string' ? raw : text;
    }
  }
  return { ok: true, parameters };
}
