import { executedNotebookPath, readOnlyNotebook } from '../pipelines/notebook';
import { IAttempt, IRun } from '../pipelines/tokens';

describe('executed notebooks', () => {
  it('are saved per pipeline, named by run, step and attempt', () => {
    const run = {
      id: 'dea4d9ae0123456789abcdef01234567',
      pipeline: 'month_end'
    } as IRun;
    const attempt = { step_id: 'check', attempt: 2 } as IAttempt;
    expect(executedNotebookPath(run, attempt)).toBe(
      'workbench-runs/month_end/dea4d9ae-check-2.ipynb'
    );
  });

  it('open with cells that can be neither edited nor deleted', () => {
    const original = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3' } },
      cells: [
        {
          cell_type: 'code',
          source: 'x = 1',
          metadata: { tags: ['parameters'] },
          outputs: []
        },
        { cell_type: 'markdown', source: '# Notes' }
      ]
    };
    const copy = readOnlyNotebook(original) as typeof original;
    expect(copy.cells.map(c => c.metadata)).toEqual([
      { tags: ['parameters'], editable: false, deletable: false },
      { editable: false, deletable: false }
    ]);
    expect(copy.metadata).toEqual(original.metadata);
    expect(copy.cells[0].source).toBe('x = 1');
    // The answer of the server is left as it was.
    expect(original.cells[0].metadata).toEqual({ tags: ['parameters'] });
  });

  it('keeps a notebook without cells', () => {
    expect(readOnlyNotebook({ nbformat: 4 })).toEqual({
      nbformat: 4,
      cells: []
    });
  });
});
