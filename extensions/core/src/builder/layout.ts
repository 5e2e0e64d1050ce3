/**
 * Automatic layout of the pipeline graph with dagre: layers from left to
 * right in the order of the dependencies. Positions the user set by dragging
 * a step (or dropping one) are kept until the next "Arrange".
 */
import { graphlib, layout } from '@dagrejs/dagre';

import { IGraphEdge, IGraphStep } from './spec';

/**
 * Size of a step on the canvas, in pixels.
 */
export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 56;

/**
 * A position on the canvas (top-left corner of a step).
 */
export interface IPoint {
  x: number;
  y: number;
}

/**
 * Where each step goes: dagre's layout of the whole graph, except for the
 * steps in `pinned`, which stay where they are.
 */
export function layoutSteps(
  steps: IGraphStep[],
  edges: IGraphEdge[],
  pinned: ReadonlyMap<string, IPoint> = new Map()
): Map<string, IPoint> {
  const graph = new graphlib.Graph({ multigraph: false });
  // tight-tree ranks as well as network-simplex here at a third of the cost.
  graph.setGraph({
    rankdir: 'LR',
    nodesep: 24,
    ranksep: 72,
    marginx: 16,
    marginy: 16,
    ranker: 'tight-tree'
  });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set<string>();
  for (const step of steps) {
    if (!ids.has(step.id)) {
      ids.add(step.id);
      graph.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
    }
  }
  for (const edge of edges) {
    graph.setEdge(edge.source, edge.target);
  }
  layout(graph);
  const placed = new Map<string, IPoint>();
  for (const id of ids) {
    const pin = pinned.get(id);
    if (pin) {
      placed.set(id, pin);
      continue;
    }
    const node = graph.node(id) as { x: number; y: number } | undefined;
    placed.set(id, {
      x: (node?.x ?? 0) - NODE_WIDTH / 2,
      y: (node?.y ?? 0) - NODE_HEIGHT / 2
    });
  }
  return placed;
}
