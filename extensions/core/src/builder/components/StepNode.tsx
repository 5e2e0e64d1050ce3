import { Handle, Node, NodeProps, Position } from '@xyflow/react';
import * as React from 'react';

import { stateClass } from '../../pipelines/dag';
import { formatDuration, stateLabel } from '../../pipelines/format';

/**
 * What a step node shows.
 */
export interface IStepNodeData extends Record<string, unknown> {
  id: string;
  kind: string;
  detail: string;
  /**
   * Validation messages about this step.
   */
  problems: string[];
  /**
   * Its state in the latest run (`none` when it has not run).
   */
  state: string;
  attempt: number | null;
  duration: number | null;
  /**
   * The step's id is used by another step too.
   */
  duplicate: boolean;
  labels: {
    input: string;
    output: string;
    problems: string;
  };
}

/**
 * A step on the canvas.
 */
export type StepNodeType = Node<IStepNodeData, 'step'>;

/**
 * A step: its id, kind and what it runs; ports to connect (left: waits for,
 * right: is waited for by); its problems and its state in the latest run.
 */
export function StepNode(props: NodeProps<StepNodeType>): JSX.Element {
  const { data, selected } = props;
  const problems = data.problems.length > 0;
  const classes = [
    'jp-WorkbenchBuilder-node',
    stateClass(data.state),
    selected ? 'jp-mod-selected' : '',
    problems ? 'jp-mod-invalid' : ''
  ]
    .filter(Boolean)
    .join(' ');
  const stateText =
    data.state === 'none'
      ? ''
      : [
          stateLabel(data.state),
          data.attempt && data.attempt > 1 ? `#${data.attempt}` : '',
          data.duration !== null ? formatDuration(data.duration) : ''
        ]
          .filter(Boolean)
          .join(' · ');
  return (
    <div
      className={classes}
      data-step={data.id}
      data-kind={data.kind}
      data-state={data.state}
      title={problems ? data.problems.join('\n') : undefined}
    >
      <Handle
        type="target"
        position={Position.Left}
        className="jp-WorkbenchBuilder-port"
        aria-label={data.labels.input}
      />
      <div className="jp-WorkbenchBuilder-nodeHead">
        <span className="jp-WorkbenchBuilder-nodeKind">{data.kind}</span>
        <span className="jp-WorkbenchBuilder-nodeId">{data.id || '—'}</span>
        {problems && (
          <span
            className="jp-WorkbenchBuilder-nodeProblems"
            aria-label={data.labels.problems}
          >
            {data.problems.length}
          </span>
        )}
      </div>
      <div className="jp-WorkbenchBuilder-nodeDetail">
        {stateText || data.detail}
      </div>
      <Handle
        type="source"
        position={Position.Right}
        className="jp-WorkbenchBuilder-port"
        aria-label={data.labels.output}
      />
    </div>
  );
}
