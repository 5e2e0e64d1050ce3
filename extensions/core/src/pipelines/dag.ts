/**
 * The DAG of a pipeline's steps, its layered layout, and the state of each
 * step in a run. Pure functions, tested without a browser.
 */
import { IAttempt, IPipeline, IRun } from './tokens';

/**
 * A step and the steps it waits for.
 */
export interface IDagNode {
  id: string;
  dependsOn: string[];
}

/**
 * An edge from a step to a step that depends on it.
 */
export interface IDagEdge {
  from: string;
  to: string;
}

/**
 * A node placed by the layout (top-left corner, in pixels).
 */
export interface IPlacedNode {
  id: string;
  layer: number;
  x: number;
  y: number;
}

/**
 * The laid-out DAG, ready to draw as SVG.
 */
export interface IDagLayout {
  nodes: IPlacedNode[];
  edges: { from: string; to: string; points: [number, number][] }[];
  width: number;
  height: number;
}

/**
 * Sizes of the layout, in pixels.
 */
export const NODE_WIDTH = 160;
export const NODE_HEIGHT = 36;
const LAYER_GAP = 64;
const ROW_GAP = 20;
const MARGIN = 12;

/**
 * The steps of a pipeline with their dependencies; unknown dependencies are
 * dropped (the server validated the spec, so only a partial payload has any).
 */
export function buildDag(pipeline: Pick<IPipeline, 'steps' | 'depends_on'>): {
  nodes: IDagNode[];
  edges: IDagEdge[];
} {
  const known = new Set(pipeline.steps);
  const nodes = pipeline.steps.map(id => ({
    id,
    dependsOn: (pipeline.depends_on?.[id] ?? []).filter(
      d => known.has(d) && d !== id
    )
  }));
  const edges: IDagEdge[] = [];
  for (const node of nodes) {
    for (const from of node.dependsOn) {
      edges.push({ from, to: node.id });
    }
  }
  return { nodes, edges };
}

/**
 * The layer of each step: 0 for steps without dependencies, else one more
 * than its deepest dependency (longest path). A cycle, which validation
 * forbids, is cut rather than looped on.
 */
export function layers(nodes: IDagNode[]): Map<string, number> {
  const byId = new Map(nodes.map(n => [n.id, n]));
  const result = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const done = result.get(id);
    if (done !== undefined) {
      return done;
    }
    if (visiting.has(id)) {
      return -1;
    }
    visiting.add(id);
    let layer = 0;
    for (const dep of byId.get(id)?.dependsOn ?? []) {
      layer = Math.max(layer, visit(dep) + 1);
    }
    visiting.delete(id);
    result.set(id, layer);
    return layer;
  };
  nodes.forEach(n => visit(n.id));
  return result;
}

/**
 * A left-to-right layered layout: one column per layer, steps in a column in
 * the order of the spec, each column centred vertically; edges go from the
 * right side of a step to the left side of its dependent.
 */
export function layoutDag(nodes: IDagNode[], edges: IDagEdge[]): IDagLayout {
  const layerOf = layers(nodes);
  const columns: string[][] = [];
  for (const node of nodes) {
    const layer = layerOf.get(node.id) ?? 0;
    (columns[layer] = columns[layer] ?? []).push(node.id);
  }
  const tallest = Math.max(0, ...columns.map(c => (c ? c.length : 0)));
  const height = Math.max(
    NODE_HEIGHT + 2 * MARGIN,
    tallest * NODE_HEIGHT + Math.max(0, tallest - 1) * ROW_GAP + 2 * MARGIN
  );
  const placed = new Map<string, IPlacedNode>();
  columns.forEach((column, layer) => {
    if (!column) {
      return;
    }
    const used = column.length * NODE_HEIGHT + (column.length - 1) * ROW_GAP;
    const top = (height - used) / 2;
    column.forEach((id, row) => {
      placed.set(id, {
        id,
        layer,
        x: MARGIN + layer * (NODE_WIDTH + LAYER_GAP),
        y: top + row * (NODE_HEIGHT + ROW_GAP)
      });
    });
  });
  const width =
    columns.length * NODE_WIDTH +
    Math.max(0, columns.length - 1) * LAYER_GAP +
    2 * MARGIN;
  return {
    nodes: nodes.map(n => placed.get(n.id)!),
    edges: edges
      .filter(e => placed.has(e.from) && placed.has(e.to))
      .map(e => {
        const a = placed.get(e.from)!;
        const b = placed.get(e.to)!;
        return {
          ...e,
          points: [
            [a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2],
            [b.x, b.y + NODE_HEIGHT / 2]
          ]
        };
      }),
    width: Math.max(width, NODE_WIDTH + 2 * MARGIN),
    height
  };
}

/**
 * The last attempt of each step in a run.
 */
export function lastAttempts(run: IRun | null): Map<string, IAttempt> {
  const last = new Map<string, IAttempt>();
  for (const attempt of run?.attempts ?? []) {
    const seen = last.get(attempt.step_id);
    if (!seen || attempt.attempt >= seen.attempt) {
      last.set(attempt.step_id, attempt);
    }
  }
  return last;
}

/**
 * The state of a step in a run: its last attempt's, else derived from the
 * run (a step not reached in a finished run never ran).
 */
export function stepState(run: IRun | null, step: string): string {
  if (!run) {
    return 'none';
  }
  const attempt = lastAttempts(run).get(step);
  if (attempt) {
    return attempt.status;
  }
  if (run.status === 'failed') {
    return 'upstream_failed';
  }
  if (run.status === 'cancelled') {
    return 'cancelled';
  }
  if (run.status === 'succeeded') {
    return 'skipped';
  }
  return 'queued';
}

/**
 * Colour groups of states, one CSS modifier class each.
 */
const STATE_GROUPS: { [state: string]: string } = {
  succeeded: 'succeeded',
  reused: 'succeeded',
  running: 'running',
  queued: 'queued',
  failed: 'failed',
  timed_out: 'failed',
  lost: 'failed',
  upstream_failed: 'warn',
  cancelled: 'warn',
  skipped: 'neutral',
  none: 'neutral'
};

/**
 * The CSS class of a step or run state, e.g. `jp-mod-succeeded`; an unknown
 * state is neutral.
 */
export function stateClass(state: string): string {
  return `jp-mod-${STATE_GROUPS[state] ?? 'neutral'}`;
}

/**
 * Whether a run may still change (so it is polled).
 */
export function isActive(run: IRun | null): boolean {
  return !!run && !['succeeded', 'failed', 'cancelled'].includes(run.status);
}
