/**
 * The pipeline spec as the editor sees it: steps as graph nodes, their
 * `depends_on` as edges, step ids made from notebook names, and the order
 * keys are written in. Pure functions over plain data.
 */
import { PathExt } from '@jupyterlab/coreutils';

import { isObject, Value } from './yamlRender';
import { Path } from './yamlEdit';

/**
 * The kind a step without `kind` has.
 */
export const DEFAULT_KIND = 'notebook';

/**
 * A step of the spec, as a node of the graph.
 */
export interface IGraphStep {
  /**
   * The step's id (may be empty or repeated in a file being written).
   */
  id: string;
  /**
   * Its index in `steps`.
   */
  index: number;
  kind: string;
  /**
   * What it runs: the notebook's file name, a sql step's target, ...
   */
  detail: string;
  /**
   * Ids it waits for, as written.
   */
  dependsOn: string[];
}

/**
 * An edge: `target` depends on `source`.
 */
export interface IGraphEdge {
  source: string;
  target: string;
}

/**
 * The steps of a spec value (anything that is not a list of mappings is no
 * step).
 */
export function graphSteps(spec: Value): IGraphStep[] {
  const steps = isObject(spec) && Array.isArray(spec.steps) ? spec.steps : [];
  return steps.map((step, index) => {
    const s = isObject(step) ? step : {};
    const kind = typeof s.kind === 'string' ? s.kind : DEFAULT_KIND;
    return {
      id: typeof s.id === 'string' ? s.id : String(s.id ?? ''),
      index,
      kind,
      detail: stepDetail(kind, s),
      dependsOn: Array.isArray(s.depends_on)
        ? s.depends_on.map(d => String(d))
        : []
    };
  });
}

/**
 * The edges between steps that exist (a `depends_on` naming no step draws
 * nothing; validation reports it).
 */
export function graphEdges(steps: IGraphStep[]): IGraphEdge[] {
  const ids = new Set(steps.map(s => s.id));
  const edges: IGraphEdge[] = [];
  const seen = new Set<string>();
  for (const step of steps) {
    for (const source of step.dependsOn) {
      const key = `${source}->${step.id}`;
      if (ids.has(source) && source !== step.id && !seen.has(key)) {
        seen.add(key);
        edges.push({ source, target: step.id });
      }
    }
  }
  return edges;
}

function stepDetail(kind: string, step: { [key: string]: Value }): string {
  const text = (key: string): string =>
    typeof step[key] === 'string' ? (step[key] as string) : '';
  switch (kind) {
    case 'notebook':
      return PathExt.basename(text('notebook'));
    case 'extract':
      return text('source');
    case 'merge': {
      const tables = Array.isArray(step.tables) ? step.tables.length : 0;
      return tables === 1 ? '1 table' : `${tables} tables`;
    }
    default:
      return text('target') || text('source') || text('file');
  }
}

/**
 * A step id made from a file or a word: lower case letters, digits and `_`,
 * starting with a letter (`Extract Odoo.ipynb` gives `extract_odoo`).
 */
export function stepIdFrom(name: string): string {
  const stem = PathExt.basename(name).replace(/\.[^.]*$/, '');
  let id = stem
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/_+/g, '_');
  if (!/^[a-z]/.test(id)) {
    id = `step_${id}`.replace(/_+$/, '');
  }
  return id.slice(0, 60) || 'step';
}

/**
 * `base`, or `base_2`, `base_3`... whichever is not taken.
 */
export function uniqueId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) {
    return base;
  }
  for (let n = 2; ; n++) {
    const id = `${base}_${n}`;
    if (!used.has(id)) {
      return id;
    }
  }
}

/**
 * A notebook's path as the pipeline file names it: relative to the file's
 * folder (both paths as the file browser gives them).
 */
export function notebookPathFor(
  pipelinePath: string,
  notebook: string
): string {
  const folder = PathExt.dirname(pipelinePath.replace(/^[^/:]+:/, ''));
  const target = notebook.replace(/^[^/:]+:/, '');
  const relative = PathExt.relative(folder || '.', target);
  return relative || PathExt.basename(target);
}

/**
 * Whether `from` -> `to` (to depends on from) would close a cycle: `from`
 * already depends on `to`, directly or not.
 */
export function wouldCycle(
  steps: IGraphStep[],
  from: string,
  to: string
): boolean {
  if (from === to) {
    return true;
  }
  const byId = new Map(steps.map(s => [s.id, s]));
  const stack = [from];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) {
      return true;
    }
    if (!seen.has(id)) {
      seen.add(id);
      stack.push(...(byId.get(id)?.dependsOn ?? []));
    }
  }
  return false;
}

/**
 * Keys common to every step kind, and where they go in a step.
 */
const STEP_HEAD = ['id', 'kind'];
const STEP_TAIL = [
  'depends_on',
  'parameters',
  'retries',
  'timeout',
  'kernel',
  'inputs',
  'outputs'
];

/**
 * Order of the keys of a pipeline's top level, as the templates write it.
 */
export const PIPELINE_ORDER = [
  'name',
  'description',
  'owner',
  'parameters',
  'schedule',
  'sla',
  'notifications',
  'access',
  'steps'
];

/**
 * The order of a step's keys: id and kind, what the kind needs (in the
 * schema's order), then what every step has.
 */
export function stepKeyOrder(kindKeys: string[]): string[] {
  const middle = kindKeys.filter(
    k => !STEP_HEAD.includes(k) && !STEP_TAIL.includes(k)
  );
  return [...STEP_HEAD, ...middle, ...STEP_TAIL];
}

/**
 * Whether `path` points into one step (`['steps', 3, ...]`); its index.
 */
export function stepIndexOf(path: Path): number | null {
  return path[0] === 'steps' && typeof path[1] === 'number' ? path[1] : null;
}

/**
 * A validation error's path (`steps[2].retries.attempts`) as keys and
 * indices.
 */
export function parseErrorPath(path: string): Path {
  const out: Path = [];
  for (const part of path.split('.')) {
    const match = /^([^[\]]*)((\[\d+\])*)$/.exec(part);
    if (!match) {
      out.push(part);
      continue;
    }
    if (match[1]) {
      out.push(match[1]);
    }
    for (const index of match[2].match(/\d+/g) ?? []) {
      out.push(Number(index));
    }
  }
  return out;
}
