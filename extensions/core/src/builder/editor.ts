/**
 * What the canvas does to the pipeline, with the document's path, the
 * server's schema and the selection: each action one edit of the YAML (one
 * step of the history).
 */
import { BuilderModel } from './model';
import { IPoint, NODE_HEIGHT } from './layout';
import {
  addSteps,
  connect,
  copySteps,
  disconnect,
  pasteSteps,
  readCopiedSteps,
  renameStep,
  stepsOf
} from './ops';
import { PipelineSchema } from './schema';
import {
  DEFAULT_KIND,
  notebookPathFor,
  stepIdFrom,
  uniqueId,
  wouldCycle
} from './spec';
import { ITextEdit } from './yamlEdit';

/**
 * Steps copied last in this window (for a paste when the system clipboard
 * cannot be read).
 */
let copied = '';

/**
 * The pipeline editor's actions on one document.
 */
export class BuilderEditor {
  constructor(private readonly _options: BuilderEditor.IOptions) {}

  /**
   * Add a step per notebook (other files are ignored), from `at` downwards.
   */
  addNotebooks(paths: string[], at: IPoint | null): string[] {
    const notebooks = paths.filter(p => /\.ipynb$/i.test(p));
    const { schema, path } = this._options;
    return this._add(
      notebooks.map(
        notebook => (taken: Set<string>) =>
          schema.newStep(DEFAULT_KIND, uniqueId(stepIdFrom(notebook), taken), {
            notebook: notebookPathFor(path(), notebook)
          })
      ),
      at
    );
  }

  /**
   * Add a step of `kind` (at `at`, or where the layout puts it).
   */
  addKind(kind: string, at: IPoint | null): string[] {
    const { schema } = this._options;
    return this._add(
      [taken => schema.newStep(kind, uniqueId(kind, taken))],
      at
    );
  }

  canConnect(from: string, to: string): boolean {
    const steps = stepsOf(this._model.source);
    const target = steps.find(s => s.id === to);
    return (
      !!target &&
      steps.some(s => s.id === from) &&
      !target.dependsOn.includes(from) &&
      !wouldCycle(steps, from, to)
    );
  }

  /**
   * Make `to` wait for `from`.
   */
  connect(from: string, to: string): boolean {
    return this._model.edit(source => connect(source, from, to));
  }

  /**
   * Stop `to` waiting for `from`.
   */
  disconnect(from: string, to: string): boolean {
    return this._model.edit(source => disconnect(source, from, to));
  }

  /**
   * Rename a step (and the references to it).
   */
  rename(from: string, to: string): void {
    if (to && this._model.edit(source => renameStep(source, from, to))) {
      this._options.onSelect([to]);
    }
  }

  /**
   * Delete the selected steps (with the edges to them) and edges.
   */
  deleteSelection(selected: ReadonlySet<string>): void {
    const changed = this._model.edit(source => {
      const steps = stepsOf(source);
      const gone = new Set(
        steps
          .filter(s => selected.has(s.id) || selected.has(`#${s.index}`))
          .map(s => s.id)
      );
      const edits: ITextEdit[] = [];
      for (const step of steps) {
        if (gone.has(step.id)) {
          edits.push(...source.remove(['steps', step.index]));
          continue;
        }
        const kept = step.dependsOn.filter(
          d => !gone.has(d) && !selected.has(`${d}->${step.id}`)
        );
        if (kept.length !== step.dependsOn.length) {
          edits.push(
            ...source.set(
              ['steps', step.index, 'depends_on'],
              kept.length ? kept : undefined
            )
          );
        }
      }
      if (steps.length > 0 && steps.every(s => gone.has(s.id))) {
        return source.set(['steps'], []);
      }
      return edits;
    });
    if (changed) {
      this._options.onSelect([]);
    }
  }

  /**
   * The selected steps as YAML, for the clipboard.
   */
  copy(selected: ReadonlySet<string>): string {
    const text = copySteps(this._model.source, [...selected]);
    if (text) {
      copied = text;
    }
    return text;
  }

  /**
   * Paste steps (clipboard text, or what was copied last here).
   */
  paste(text: string): string[] {
    const steps = readCopiedSteps(text) ?? readCopiedSteps(copied);
    if (!steps) {
      return [];
    }
    let ids: string[] = [];
    this._model.edit(source => {
      const pasted = pasteSteps(source, steps);
      ids = pasted.ids;
      return pasted.edits;
    });
    this._options.onSelect(ids);
    return ids;
  }

  private get _model(): BuilderModel {
    return this._options.model;
  }

  private _add(
    makers: ((taken: Set<string>) => { [key: string]: any })[],
    at: IPoint | null
  ): string[] {
    if (makers.length === 0) {
      return [];
    }
    const taken = new Set(stepsOf(this._model.source).map(s => s.id));
    const steps = makers.map(make => {
      const step = make(taken);
      taken.add(step.id);
      return step;
    });
    const ids = steps.map(s => String(s.id));
    if (!this._model.edit(source => addSteps(source, steps))) {
      return [];
    }
    if (at) {
      ids.forEach((id, i) =>
        this._options.onPin(id, { x: at.x, y: at.y + i * (NODE_HEIGHT + 24) })
      );
    }
    this._options.onSelect(ids);
    return ids;
  }
}

/**
 * A namespace for BuilderEditor statics.
 */
export namespace BuilderEditor {
  /**
   * Options of the editor.
   */
  export interface IOptions {
    model: BuilderModel;
    schema: PipelineSchema;
    /**
     * The document's path (notebooks are named relative to its folder).
     */
    path: () => string;
    /**
     * Select these steps on the canvas.
     */
    onSelect: (ids: string[]) => void;
    /**
     * Keep a new step where it was dropped.
     */
    onPin: (id: string, at: IPoint) => void;
  }
}
