/**
 * Pure logic behind the health status item: classify what the health endpoint
 * answered, summarise it for people, and decide when to notify.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { messageOf } from './request';
import { IHealthCheck, IHealthReport, TRANSLATION_DOMAIN } from './tokens';

/**
 * What one request to `GET /workbench/api/health` came to.
 */
export type HealthOutcome =
  /** No answer yet. */
  | { kind: 'pending' }
  /** A health report, sent with HTTP 200 (all ok) or 503 (not all ok). */
  | { kind: 'report'; report: IHealthReport }
  /** No usable answer: network error, or the server refused us (401/403). */
  | { kind: 'unreachable'; reason: string }
  /** Any other answer, e.g. 404 when the server extension is not enabled. */
  | { kind: 'error'; status: number; message: string };

/**
 * How bad a state is; drives the colour of the status item.
 */
export type Severity = 'ok' | 'warning' | 'error' | 'unknown';

/**
 * One part of the workbench, ready to display.
 */
export interface IPartLine {
  /**
   * Key of the part in the report, e.g. `metadata_db`.
   */
  id: string;

  /**
   * Human name, e.g. `Metadata DB`.
   */
  name: string;

  /**
   * Status as the server reported it.
   */
  status: string;

  /**
   * Severity of that status.
   */
  severity: Severity;

  /**
   * What the part said, or why it is down.
   */
  detail: string;

  /**
   * Check duration, e.g. `1.2 ms`; empty when unknown.
   */
  latency: string;
}

/**
 * A health outcome summarised for the status bar, the dialog and notifications.
 */
export interface IHealthSummary {
  /**
   * Short text for the status bar.
   */
  label: string;

  /**
   * Overall severity.
   */
  severity: Severity;

  /**
   * One sentence saying what is wrong (or that all is well).
   */
  title: string;

  /**
   * Server version, when a report was received.
   */
  version: string | null;

  /**
   * One line per part, known parts first.
   */
  lines: IPartLine[];

  /**
   * `Part: detail` for each part that is not ok.
   */
  problems: string[];

  /**
   * Identifies the state for change detection: the same key means nothing a
   * user should be told about again has changed.
   */
  key: string;
}

/**
 * A notification to show when the state changes.
 */
export interface INotice {
  /**
   * Notification type.
   */
  type: 'success' | 'warning' | 'error';

  /**
   * Notification text.
   */
  message: string;
}

/**
 * Ids of the parts the server checks, in display order.
 */
const KNOWN_PARTS = ['metadata_db', 'temporal', 'worker'];

const HEALTH_STATUSES = ['ok', 'starting', 'degraded', 'down'];

/**
 * Return the body as a health report if it has the report's shape, else null.
 */
export function parseHealthReport(body: unknown): IHealthReport | null {
  if (!isObject(body)) {
    return null;
  }
  const { status, version, checks } = body;
  if (
    typeof status !== 'string' ||
    !HEALTH_STATUSES.includes(status) ||
    typeof version !== 'string' ||
    !isObject(checks)
  ) {
    return null;
  }
  for (const check of Object.values(checks)) {
    if (
      !isObject(check) ||
      typeof check.status !== 'string' ||
      typeof check.detail !== 'string'
    ) {
      return null;
    }
  }
  return body as unknown as IHealthReport;
}

/**
 * Classify an HTTP answer of the health endpoint.
 *
 * @param status HTTP status code.
 * @param body Parsed JSON body, or the raw text when it was not JSON.
 */
export function classifyAnswer(
  status: number,
  body: unknown,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): HealthOutcome {
  if (status === 200 || status === 503) {
    const report = parseHealthReport(body);
    if (report) {
      return { kind: 'report', report };
    }
  }
  const message = messageOf(body);
  if (status === 401 || status === 403) {
    return {
      kind: 'unreachable',
      reason:
        message ??
        trans.__(
          'the Jupyter server refused the request (HTTP %1); reload the page to sign in again',
          status
        )
    };
  }
  if (status === 404 && message === null) {
    return {
      kind: 'error',
      status,
      message: trans.__(
        'The workbench server extension is not enabled (HTTP 404): run `jupyter server extension enable workbench_server` and restart.'
      )
    };
  }
  if (status === 200) {
    return {
      kind: 'error',
      status,
      message: trans.__(
        'The workbench server sent a health answer this version of the extension does not understand; check that server and extension versions match.'
      )
    };
  }
  return {
    kind: 'error',
    status,
    message: message ?? trans.__('The workbench API answered HTTP %1.', status)
  };
}

/**
 * Summarise a health outcome for people.
 */
export function summarizeHealth(
  outcome: HealthOutcome,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IHealthSummary {
  switch (outcome.kind) {
    case 'pending':
      return {
        label: trans.__('Workbench'),
        severity: 'unknown',
        title: trans.__('Checking the workbench health…'),
        version: null,
        lines: [],
        problems: [],
        key: 'pending'
      };
    case 'unreachable':
      return {
        label: trans.__('Workbench: unreachable'),
        severity: 'error',
        title: trans.__(
          'The workbench server is unreachable: %1',
          outcome.reason
        ),
        version: null,
        lines: [],
        problems: [],
        key: 'unreachable'
      };
    case 'error':
      return {
        label: trans.__('Workbench: error %1', outcome.status),
        severity: 'error',
        title: outcome.message,
        version: null,
        lines: [],
        problems: [],
        key: `error:${outcome.status}`
      };
    case 'report':
      return summarizeReport(outcome.report, trans);
  }
}

/**
 * Decide whether a state change deserves a notification.
 *
 * Polling repeats the same answer every few seconds; only a change of state
 * (a part going down, the server becoming unreachable, recovery) is news.
 *
 * @param previous Summary shown so far, or null before the first answer.
 * @param next The new summary.
 */
export function noticeFor(
  previous: IHealthSummary | null,
  next: IHealthSummary,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): INotice | null {
  if (next.severity === 'unknown') {
    return null;
  }
  const previousKey = previous?.key ?? 'pending';
  if (previousKey === next.key) {
    return null;
  }
  if (next.severity === 'ok') {
    // Only a recovery is news; a healthy start (after starting) is not.
    return previousKey === 'pending' || previousKey.startsWith('starting:')
      ? null
      : {
          type: 'success',
          message: trans.__('The workbench is healthy again.')
        };
  }
  return {
    type: next.severity === 'warning' ? 'warning' : 'error',
    message: next.title
  };
}

/**
 * Format a check duration for display.
 */
export function formatLatency(latencyMs: number | null | undefined): string {
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs)) {
    return '';
  }
  return latencyMs < 10
    ? `${latencyMs.toFixed(1)} ms`
    : `${Math.round(latencyMs)} ms`;
}

/**
 * Human name of a part: the known name, else the key made readable.
 */
export function partName(
  id: string,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  switch (id) {
    case 'metadata_db':
      return trans.__('Metadata DB');
    case 'temporal':
      return trans.__('Temporal');
    case 'worker':
      return trans.__('Pipeline worker');
  }
  const words = id.replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function summarizeReport(
  report: IHealthReport,
  trans: TranslationBundle
): IHealthSummary {
  const lines = orderedParts(report.checks).map(([id, check]) =>
    partLine(id, check, trans)
  );
  const failing = lines.filter(line => line.severity !== 'ok');
  const severity: Severity =
    report.status === 'ok'
      ? 'ok'
      : report.status === 'starting'
        ? 'unknown'
        : report.status === 'degraded'
          ? 'warning'
          : 'error';

  const down = failing.map(line => line.name).join(', ');
  let label: string;
  let title: string;
  switch (report.status) {
    case 'ok':
      label = trans.__('Workbench');
      title = trans.__(
        'Workbench %1: all %2 parts are ok.',
        report.version,
        lines.length
      );
      break;
    case 'starting':
      label = trans.__('Workbench: starting');
      title = trans.__(
        'Workbench %1 is starting: %2 starting; runs wait for it.',
        report.version,
        down
      );
      break;
    case 'degraded':
      label = trans.__('Workbench: degraded');
      title = trans.__(
        'Workbench %1 is degraded: %2 down.',
        report.version,
        down
      );
      break;
    default:
      label = trans.__('Workbench: down');
      title = trans.__('Workbench %1 is down: %2 down.', report.version, down);
  }

  return {
    label,
    severity,
    title,
    version: report.version,
    lines,
    problems: failing.map(line => `${line.name}: ${line.detail}`),
    key: `${report.status}:${failing.map(line => line.id).join(',')}`
  };
}

function partLine(
  id: string,
  check: IHealthCheck,
  trans: TranslationBundle
): IPartLine {
  return {
    id,
    name: partName(id, trans),
    status: check.status,
    severity:
      check.status === 'ok'
        ? 'ok'
        : check.status === 'starting'
          ? 'unknown'
          : 'error',
    detail: check.detail,
    latency: formatLatency(check.latency_ms)
  };
}

function orderedParts(checks: {
  [part: string]: IHealthCheck;
}): [string, IHealthCheck][] {
  const rank = (id: string): number => {
    const index = KNOWN_PARTS.indexOf(id);
    return index === -1 ? KNOWN_PARTS.length : index;
  };
  return Object.entries(checks).sort(
    ([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)
  );
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
