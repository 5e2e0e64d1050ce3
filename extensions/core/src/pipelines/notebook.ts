/**
 * Executed notebooks of step attempts, as they are opened in JupyterLab.
 */
import { IAttempt, IRun } from './tokens';

/**
 * Folder (in the notebook folder) where executed notebooks are saved to be
 * opened; not hidden, because Jupyter Server refuses hidden paths by default.
 */
export const RUNS_FOLDER = 'workbench-runs';

/**
 * Where an attempt's executed notebook is saved: one folder per pipeline, a
 * name saying run, step and attempt.
 */
export function executedNotebookPath(run: IRun, attempt: IAttempt): string {
  return `${RUNS_FOLDER}/${run.pipeline}/${run.id.slice(0, 8)}-${attempt.step_id}-${attempt.attempt}.ipynb`;
}

/**
 * A copy of an nbformat notebook whose cells may be neither edited nor
 * deleted (JupyterLab honours the `editable` and `deletable` metadata): it
 * is a record of what ran.
 */
export function readOnlyNotebook(notebook: { [key: string]: unknown }): {
  [key: string]: unknown;
} {
  const cells = Array.isArray(notebook.cells) ? notebook.cells : [];
  return {
    ...notebook,
    cells: cells.map((cell: { [key: string]: unknown }) => ({
      ...cell,
      metadata: {
        ...((cell.metadata as { [key: string]: unknown } | undefined) ?? {}),
        editable: false,
        deletable: false
      }
    }))
  };
}
