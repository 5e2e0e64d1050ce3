import * as React from 'react';

import { ArrowMarker } from '../../components/ArrowMarker';

import {
  IDagLayout,
  lastAttempts,
  NODE_HEIGHT,
  NODE_WIDTH,
  stateClass,
  stepState
} from '../dag';
import { formatDuration, stateLabel } from '../format';
import { IRun } from '../tokens';

/**
 * Properties of the DAG drawing.
 */
export interface IDagGraphProps {
  /**
   * The laid-out steps and edges.
   */
  layout: IDagLayout;
  /**
   * The run whose step states colour the nodes, if any.
   */
  run: IRun | null;
  /**
   * The selected step, if any.
   */
  selected: string | null;
  /**
   * Accessible name of the drawing.
   */
  label: string;
  /**
   * Document-unique id of the arrow marker.
   */
  markerId: string;
  /**
   * A step was clicked (or Enter/Space on it).
   */
  onSelect: (step: string) => void;
}

/**
 * A pipeline's steps as an SVG DAG: one box per step, coloured by its state
 * in the run, with its attempt number and duration; edges from a step to
 * the steps that wait for it.
 */
export function DagGraph(props: IDagGraphProps): JSX.Element {
  const { layout, run, markerId, onSelect } = props;
  const attempts = lastAttempts(run);
  return (
    <div className="jp-WorkbenchPipeline-dag">
      <svg
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label={props.label}
      >
        <defs>
          <ArrowMarker id={markerId} className="jp-WorkbenchPipeline-arrow" />
        </defs>
        {layout.edges.map(edge => {
          const [[x1, y1], [x2, y2]] = edge.points;
          const mid = (x1 + x2) / 2;
          return (
            <path
              key={`${edge.from}->${edge.to}`}
              className="jp-WorkbenchPipeline-edge"
              d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`}
              markerEnd={`url(#${markerId})`}
            />
          );
        })}
        {layout.nodes.map(node => {
          const state = stepState(run, node.id);
          const attempt = attempts.get(node.id);
          const selected = node.id === props.selected;
          return (
            <g
              key={node.id}
              className={`jp-WorkbenchPipeline-node ${stateClass(state)}${selected ? ' jp-mod-selected' : ''}`}
              data-step={node.id}
              data-state={state}
              transform={`translate(${node.x}, ${node.y})`}
              role="button"
              tabIndex={0}
              onClick={() => onSelect(node.id)}
              onKeyDown={event => {
                if (event.key === 'Enter' || event.key === ' ') {
                  onSelect(node.id);
                }
              }}
            >
              <title>{`${node.id}: ${stateLabel(state)}`}</title>
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={6} ry={6} />
              <text x={10} y={15} className="jp-WorkbenchPipeline-nodeName">
                {node.id.length > 20 ? `${node.id.slice(0, 19)}…` : node.id}
              </text>
              <text x={10} y={29} className="jp-WorkbenchPipeline-nodeState">
                {stateLabel(state)}
                {attempt && attempt.attempt > 1 ? ` · #${attempt.attempt}` : ''}
                {attempt?.duration_s !== null &&
                attempt?.duration_s !== undefined
                  ? ` · ${formatDuration(attempt.duration_s)}`
                  : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
