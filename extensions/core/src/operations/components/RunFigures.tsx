import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatDuration } from '../../pipelines/format';
import {
  bucketLabel,
  formatRate,
  rateLevel,
  sparklinePath,
  trendBars
} from '../format';
import { IRunFigures } from '../tokens';

const TREND_HEIGHT = 80;
/**
 * The width the trend aims at: a week gets wide bars, 30 days or 24 hours
 * narrower ones, each between 10 and 56 px with its gap.
 */
const TREND_WIDTH = 720;
const LABEL_WIDTH = 56;

/**
 * The window's headline figures: success rate against the goal, runs,
 * durations, runs going on and SLA misses.
 */
export function FigureTiles(props: {
  runs: IRunFigures;
  atRisk: number;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, atRisk, trans } = props;
  const totals = runs.totals;
  // key, label, value, modifier, detail
  const tiles: [string, string, string, string, string?][] = [
    [
      'success-rate',
      trans.__('Success rate'),
      formatRate(totals.success_rate),
      `jp-mod-${rateLevel(totals.success_rate)}`
    ],
    [
      'runs',
      trans.__('Runs ended'),
      String(totals.runs),
      totals.failed > 0 ? 'jp-mod-bad' : '',
      trans.__('%1 failed · %2 cancelled', totals.failed, totals.cancelled)
    ],
    [
      'p50',
      trans.__('Median duration'),
      formatDuration(totals.p50_s) || '—',
      ''
    ],
    ['p95', trans.__('p95 duration'), formatDuration(totals.p95_s) || '—', ''],
    ['active', trans.__('Queued or running'), String(runs.active), ''],
    [
      'sla',
      trans.__('SLA misses · at risk'),
      `${runs.sla_misses} · ${atRisk}`,
      runs.sla_misses > 0 || atRisk > 0 ? 'jp-mod-warn' : ''
    ]
  ];
  return (
    <div className="jp-WorkbenchOperations-tiles">
      {tiles.map(([key, label, value, mod, detail]) => (
        <div
          key={key}
          className={`jp-WorkbenchOperations-tile ${mod}`}
          data-figure={key}
        >
          <div className="jp-WorkbenchOperations-tileValue">{value}</div>
          <div className="jp-WorkbenchOperations-tileLabel">
            {label}
            {detail && (
              <span className="jp-WorkbenchOperations-tileDetail">
                {detail}
              </span>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}

/**
 * Runs per hour or day as stacked bars (succeeded, failed, cancelled) with
 * the p95 duration as a line over them.
 */
export function TrendChart(props: {
  runs: IRunFigures;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, trans } = props;
  const trend = runs.trend;
  const bars = trendBars(trend, TREND_HEIGHT);
  const slot = Math.min(
    56,
    Math.max(10, Math.floor(TREND_WIDTH / trend.length))
  );
  const barWidth = Math.round(slot * 0.75);
  const width = trend.length * slot;
  const p95 = sparklinePath(
    trend.map(b => b.p95_s),
    width - slot,
    TREND_HEIGHT - 4
  );
  const every = Math.ceil(LABEL_WIDTH / slot); // labels never overlap
  return (
    <figure className="jp-WorkbenchOperations-trend">
      <svg
        width={width}
        height={TREND_HEIGHT + 18}
        role="img"
        aria-label={trans.__('Runs per %1 and p95 duration', runs.bucket)}
      >
        {trend.map((bucket, i) => {
          const x = i * slot;
          const bar = bars[i];
          let y = TREND_HEIGHT;
          const parts = (['succeeded', 'failed', 'cancelled'] as const).map(
            part => {
              y -= bar[part];
              return bar[part] > 0 ? (
                <rect
                  key={part}
                  className={`jp-WorkbenchOperations-bar jp-mod-${part}`}
                  x={x}
                  y={y}
                  width={barWidth}
                  height={bar[part]}
                />
              ) : null;
            }
          );
          return (
            <g key={bucket.start} data-bucket={bucket.start}>
              <title>
                {trans.__(
                  '%1: %2 runs, %3 failed, p95 %4',
                  bucketLabel(bucket.start, runs.bucket),
                  bucket.runs,
                  bucket.failed,
                  formatDuration(bucket.p95_s) || '—'
                )}
              </title>
              <rect
                className="jp-WorkbenchOperations-barSlot"
                x={x}
                y={0}
                width={barWidth}
                height={TREND_HEIGHT}
              />
              {parts}
              {i % every === 0 && (
                <text
                  className="jp-WorkbenchOperations-axis"
                  x={x}
                  y={TREND_HEIGHT + 14}
                >
                  {bucketLabel(bucket.start, runs.bucket)}
                </text>
              )}
            </g>
          );
        })}
        {p95 && (
          <path
            className="jp-WorkbenchOperations-p95"
            d={p95}
            transform={`translate(${barWidth / 2} 2)`}
          />
        )}
      </svg>
      <figcaption className="jp-WorkbenchOperations-legend">
        <span className="jp-WorkbenchOperations-key jp-mod-succeeded" />
        {trans.__('succeeded')}
        <span className="jp-WorkbenchOperations-key jp-mod-failed" />
        {trans.__('failed')}
        <span className="jp-WorkbenchOperations-key jp-mod-cancelled" />
        {trans.__('cancelled')}
        <span className="jp-WorkbenchOperations-key jp-mod-p95" />
        {trans.__('p95 duration')}
      </figcaption>
    </figure>
  );
}

/**
 * A small line of values (a pipeline's median duration per bucket).
 */
export function Sparkline(props: {
  values: (number | null)[];
  label: string;
}): JSX.Element {
  const path = sparklinePath(props.values, 80, 16);
  return (
    <svg
      className="jp-WorkbenchOperations-sparkline"
      width={84}
      height={20}
      role="img"
      aria-label={props.label}
    >
      {path && <path d={path} transform="translate(2 2)" />}
    </svg>
  );
}
