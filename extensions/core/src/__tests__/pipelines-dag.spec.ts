import {
  buildDag,
  isActive,
  lastAttempts,
  layers,
  layoutDag,
  NODE_HEIGHT,
  NODE_WIDTH,
  stateClass,
  stepState
} from '../pipelines/dag';
import { IAttempt, IRun } from '../pipelines/tokens';

function attempt(
  step: string,
  n: number,
  status: string,
  extra: Partial<IAttempt> = {}
): IAttempt {
  return {
    step_id: step,
    attempt: n,
    status,
    started_at: null,
    finished_at: null,
    duration_s: null,
    output_notebook: null,
    error: null,
    failing_cell: null,
    traceback: null,
    ...extra
  };
}

function run(status: string, attempts: IAttempt[] = []): IRun {
  return {
    id: '0123456789abcdef0123456789abcdef',
    pipeline: 'close',
    version: 1,
    status,
    trigger: 'manual',
    parameters: {},
    logical_date: '2024-01-31',
    repair_of: null,
    created_at: '2024-01-31T10:00:00',
    started_at: '2024-01-31T10:00:01',
    finished_at: null,
    error: null,
    attempts
  };
}

describe('buildDag', () => {
  it('turns depends_on into edges from a step to its dependents', () => {
    const dag = buildDag({
      steps: ['extract', 'transform', 'load', 'report'],
      depends_on: {
        transform: ['extract'],
        load: ['transform'],
        report: ['transform', 'extract']
      }
    });
    expect(dag.nodes.map(n => n.id)).toEqual([
      'extract',
      'transform',
      'load',
      'report'
    ]);
    expect(dag.edges).toEqual([
      { from: 'extract', to: 'transform' },
      { from: 'transform', to: 'load' },
      { from: 'transform', to: 'report' },
      { from: 'extract', to: 'report' }
    ]);
  });

  it('has no edges when the server sends no dependencies', () => {
    const dag = buildDag({ steps: ['a', 'b'] });
    expect(dag.edges).toEqual([]);
    expect(dag.nodes).toEqual([
      { id: 'a', dependsOn: [] },
      { id: 'b', dependsOn: [] }
    ]);
  });

  it('drops unknown and self dependencies', () => {
    const dag = buildDag({
      steps: ['a', 'b'],
      depends_on: { b: ['a', 'ghost', 'b'] }
    });
    expect(dag.edges).toEqual([{ from: 'a', to: 'b' }]);
  });
});

describe('layers and layoutDag', () => {
  const dag = buildDag({
    steps: ['a', 'b', 'c', 'd'],
    depends_on: { b: ['a'], c: ['a'], d: ['b', 'c'] }
  });

  it('puts each step one layer after its deepest dependency', () => {
    expect(Array.from(layers(dag.nodes).entries())).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 1],
      ['d', 2]
    ]);
  });

  it('survives a cycle instead of looping', () => {
    const cyclic = buildDag({
      steps: ['x', 'y'],
      depends_on: { x: ['y'], y: ['x'] }
    });
    expect(layers(cyclic.nodes).size).toBe(2);
  });

  it('places layers left to right without overlaps and routes edges between node sides', () => {
    const layout = layoutDag(dag.nodes, dag.edges);
    const at = new Map(layout.nodes.map(n => [n.id, n]));
    expect(at.get('a')!.x).toBeLessThan(at.get('b')!.x);
    expect(at.get('b')!.x).toBe(at.get('c')!.x);
    expect(at.get('c')!.x).toBeLessThan(at.get('d')!.x);
    // b and c share a column: stacked, not overlapping.
    expect(Math.abs(at.get('b')!.y - at.get('c')!.y)).toBeGreaterThanOrEqual(
      NODE_HEIGHT
    );
    for (const node of layout.nodes) {
      expect(node.x + NODE_WIDTH).toBeLessThanOrEqual(layout.width);
      expect(node.y + NODE_HEIGHT).toBeLessThanOrEqual(layout.height);
      expect(node.y).toBeGreaterThanOrEqual(0);
    }
    const ab = layout.edges.find(e => e.from === 'a' && e.to === 'b')!;
    expect(ab.points[0]).toEqual([
      at.get('a')!.x + NODE_WIDTH,
      at.get('a')!.y + NODE_HEIGHT / 2
    ]);
    expect(ab.points[1]).toEqual([
      at.get('b')!.x,
      at.get('b')!.y + NODE_HEIGHT / 2
    ]);
    expect(layout.edges).toHaveLength(4);
  });

  it('lays out independent steps in one column', () => {
    const flat = buildDag({ steps: ['a', 'b', 'c'] });
    const layout = layoutDag(flat.nodes, flat.edges);
    expect(new Set(layout.nodes.map(n => n.x)).size).toBe(1);
    expect(new Set(layout.nodes.map(n => n.y)).size).toBe(3);
  });
});

describe('step states', () => {
  it('takes the last attempt of each step', () => {
    const r = run('running', [
      attempt('a', 1, 'failed'),
      attempt('a', 2, 'succeeded'),
      attempt('b', 1, 'running')
    ]);
    expect(lastAttempts(r).get('a')!.attempt).toBe(2);
    expect(stepState(r, 'a')).toBe('succeeded');
    expect(stepState(r, 'b')).toBe('running');
  });

  it('derives the state of a step without attempts from the run', () => {
    expect(stepState(null, 'a')).toBe('none');
    expect(stepState(run('queued'), 'a')).toBe('queued');
    expect(stepState(run('running'), 'a')).toBe('queued');
    expect(stepState(run('failed'), 'a')).toBe('upstream_failed');
    expect(stepState(run('cancelled'), 'a')).toBe('cancelled');
  });

  it('maps states to colour classes', () => {
    expect(stateClass('succeeded')).toBe('jp-mod-succeeded');
    expect(stateClass('reused')).toBe('jp-mod-succeeded');
    expect(stateClass('failed')).toBe('jp-mod-failed');
    expect(stateClass('timed_out')).toBe('jp-mod-failed');
    expect(stateClass('upstream_failed')).toBe('jp-mod-warn');
    expect(stateClass('running')).toBe('jp-mod-running');
    expect(stateClass('queued')).toBe('jp-mod-queued');
    expect(stateClass('something-new')).toBe('jp-mod-neutral');
  });

  it('polls only runs that may still change', () => {
    expect(isActive(null)).toBe(false);
    expect(isActive(run('queued'))).toBe(true);
    expect(isActive(run('running'))).toBe(true);
    expect(isActive(run('succeeded'))).toBe(false);
    expect(isActive(run('failed'))).toBe(false);
    expect(isActive(run('cancelled'))).toBe(false);
  });
});
