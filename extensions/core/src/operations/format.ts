/**
 * Pure helpers of the Operations view: rates, SLA states, silences matching
 * alerts, and the geometry of its small charts.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import {
  IAlert,
  IBucket,
  IPipelineOps,
  IQueue,
  ISilence,
  ISla,
  ISlaRisk
} from './tokens';

/**
 * The windows a user can choose, in the server's notation.
 */
export const WINDOWS = ['1d', '7d', '30d'] as const;

/**
 * The plan's goal: a pipeline success rate above 99 %.
 */
export const GOAL_RATE = 0.99;

/**
 * Below this rate a pipeline is shown as failing, not only below the goal.
 */
export const WARN_RATE = 0.95;

/**
 * A success rate as a percentage with at most one decimal; a dash for none.
 */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !isFinite(rate)) {
    return '—';
  }
  const percent = Math.floor(rate * 1000 + 1e-9) / 10; // 99.96 % is not 100 %
  return `${Number.isInteger(percent) ? percent : percent.toFixed(1)} %`;
}

/**
 * How a success rate compares with the goal: `ok` at or above it, `warn`
 * below it, `bad` below {@link WARN_RATE}, `none` without a rate.
 */
export function rateLevel(
  rate: number | null | undefined
): 'ok' | 'warn' | 'bad' | 'none' {
  if (rate === null || rate === undefined) {
    return 'none';
  }
  return rate >= GOAL_RATE ? 'ok' : rate >= WARN_RATE ? 'warn' : 'bad';
}

/**
 * The silence in force that covers an alert, as the engine matches them:
 * same rule (or any rule) and every label of the silence on the alert.
 */
export function silenceOf(
  alert: IAlert,
  silences: ISilence[],
  now: number = Date.now()
): ISilence | null {
  for (const silence of silences) {
    if (!silence.active || Date.parse(silence.ends_at) <= now) {
      continue;
    }
    if (silence.rule !== null && silence.rule !== alert.rule) {
      continue;
    }
    const labels = Object.entries(silence.labels);
    if (labels.every(([key, value]) => alert.labels[key] === value)) {
      return silence;
    }
  }
  return null;
}

/**
 * The labels of an alert as `name=value`, sorted, for one line of text.
 */
export function labelText(labels: { [name: string]: string }): string {
  return Object.keys(labels)
    .sort()
    .map(key => `${key}=${labels[key]}`)
    .join(', ');
}

/**
 * The SLA of a pipeline in words: its `finish_by` (in its time zone) and its
 * `max_duration`.
 */
export function slaText(sla: ISla | null, trans: TranslationBundle): string {
  if (!sla) {
    return '';
  }
  const parts: string[] = [];
  if (sla.finish_by) {
    parts.push(trans.__('done by %1 %2', sla.finish_by, sla.timezone));
  }
  if (sla.max_duration) {
    parts.push(trans.__('within %1', sla.max_duration));
  }
  return parts.join(' · ');
}

/**
 * Where a pipeline's SLA stands: at risk now (an upstream pipeline is in
 * trouble), missed in the window, kept, or no SLA at all.
 */
export function slaState(
  pipeline: IPipelineOps,
  risks: ISlaRisk[]
): 'at-risk' | 'missed' | 'ok' | 'none' {
  if (risks.some(r => r.pipeline === pipeline.pipeline)) {
    return 'at-risk';
  }
  if (!pipeline.sla) {
    return 'none';
  }
  return pipeline.sla_misses > 0 ? 'missed' : 'ok';
}

/**
 * Tasks waiting in the queue, over every kind; null when Temporal gave no
 * figures.
 */
export function queueBacklog(queue: IQueue): number | null {
  if (queue.types.length === 0) {
    return null;
  }
  return queue.types.reduce((sum, t) => sum + t.backlog, 0);
}

/**
 * An SVG path through the values, left to right over `width` and scaled to
 * `height` (the largest value at the top); a missing value breaks the line.
 * Empty when there is no value at all.
 */
export function sparklinePath(
  values: (number | null)[],
  width: number,
  height: number
): string {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) {
    return '';
  }
  const top = Math.max(...present) || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const parts: string[] = [];
  let drawing = false;
  values.forEach((value, i) => {
    if (value === null) {
      drawing = false;
      return;
    }
    const x = values.length > 1 ? i * step : width / 2;
    const y = height - (value / top) * height;
    parts.push(`${drawing ? 'L' : 'M'}${round(x)} ${round(y)}`);
    drawing = true;
  });
  // A lone point between gaps is drawn as a short dash, visible as a line.
  return parts
    .map((part, i) =>
      part.startsWith('M') && !(parts[i + 1] ?? '').startsWith('L')
        ? `${part} l0.01 0`
        : part
    )
    .join(' ');
}

/**
 * The bars of the trend: per bucket, the heights of its succeeded, failed
 * and cancelled runs stacked, scaled so the busiest bucket is `height` tall.
 */
export function trendBars(
  trend: IBucket[],
  height: number
): { succeeded: number; failed: number; cancelled: number }[] {
  const top = Math.max(1, ...trend.map(b => b.runs));
  return trend.map(b => ({
    succeeded: round((b.succeeded / top) * height),
    failed: round((b.failed / top) * height),
    cancelled: round((b.cancelled / top) * height)
  }));
}

/**
 * A bucket's start for its label: the UTC date of a day, the local time of
 * an hour.
 */
export function bucketLabel(start: string, bucket: 'hour' | 'day'): string {
  const when = new Date(start);
  if (bucket === 'day') {
    return when.toLocaleDateString(undefined, {
      month: 'short',
      day: 'numeric',
      timeZone: 'UTC'
    });
  }
  return when.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit'
  });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
