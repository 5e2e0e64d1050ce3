import { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { ReactFlowProvider } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import * as React from 'react';

import { PolledWidget } from '../components/PolledWidget';
import { PipelinesAPI } from '../pipelines/api';
import { isActive, lastAttempts, stepState } from '../pipelines/dag';
import { IProblem } from '../pipelines/yaml';
import { IRun } from '../pipelines/tokens';
import { RUN_POLL_INTERVAL } from '../pipelines/components/PipelineView';
import { Canvas, ICanvasNode } from './components/Canvas';
import { Palette } from './components/Palette';
import { Properties } from './components/Properties';
import { IFormContext } from './components/SchemaForm';
import { BuilderEditor } from './editor';
import { IPoint, layoutSteps } from './layout';
import { BuilderModel } from './model';
import { IPlacedProblems, placeOnGraph } from './problems';
import { PipelineSchema } from './schema';
import { graphEdges, graphSteps, IGraphEdge, IGraphStep } from './spec';
import { isObject } from './yamlRender';

/**
 * The pipeline editor's content: palette, canvas and properties of one
 * pipeline YAML document, coloured by the state of the pipeline's latest
 * run (polled while shown, as the Pipelines panel does).
 */
export class BuilderPanel extends PolledWidget {
  constructor(options: BuilderPanel.IOptions) {
    super({
      interval: RUN_POLL_INTERVAL,
      name: `@workbench/core:pipeline-editor:${options.path()}`
    });
    this.addClass('jp-WorkbenchBuilder');
    this._api = options.api;
    this._trans = options.trans;
    this._schema = options.schema;
    this.model = new BuilderModel({
      shared: options.shared,
      keyOrder: (path, source) => this._schema.keyOrder(path, source.value)
    });
    this.editor = new BuilderEditor({
      model: this.model,
      schema: this._schema,
      path: options.path,
      onSelect: ids => this.select(ids),
      onPin: (id, at) => this._pins.set(id, at)
    });
    this.model.changed.connect(this._onModelChanged, this);
  }

  /**
   * The YAML of the document, parsed, and the edits the canvas makes.
   */
  readonly model: BuilderModel;

  /**
   * The canvas's edits of the pipeline (add, connect, delete, paste...).
   */
  readonly editor: BuilderEditor;

  /**
   * The latest run of the pipeline named in the file, once polled.
   */
  get run(): IRun | null {
    return this._run;
  }

  /**
   * Select steps (by id); an empty list selects the pipeline itself.
   */
  select(ids: Iterable<string>): void {
    this._selected = new Set(ids);
    this.update();
  }

  /**
   * Place every step again with the automatic layout (steps moved by hand
   * included) and fit the view to it.
   */
  arrange(): void {
    this._pins.clear();
    this._positions = null;
    this._fitKey++;
    this.update();
  }

  /**
   * Show the server's latest validation result on the canvas.
   */
  setProblems(problems: IProblem[]): void {
    this._problems = problems;
    this._placed = null;
    this._graph = null;
    this.update();
  }

  /**
   * Show a problem: select its step and bring its field into view.
   */
  goTo(problem: IProblem): void {
    const placed = placeOnGraph([problem], this.model.source);
    const [index] = [...placed.byStep.keys()];
    const steps = graphSteps(this.model.source.value);
    this.select(index !== undefined && steps[index] ? [steps[index].id] : []);
    const [path] = [...placed.byPath.keys()];
    if (path) {
      requestAnimationFrame(() =>
        this.node
          .querySelector(`[data-field="${CSS.escape(path)}"]`)
          ?.scrollIntoView({ block: 'center' })
      );
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    this.model.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // Put into its document once loaded, when the document is shown already:
    // no show message comes, and the latest run must be polled all the same.
    if (this.isVisible) {
      this.onAfterShow();
    }
  }

  protected async load(): Promise<void> {
    const spec = this.model.source.value;
    const name =
      isObject(spec) && typeof spec.name === 'string' ? spec.name : '';
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) {
      return;
    }
    let runs: IRun[];
    try {
      runs = await this._api.runs(name, 1);
    } catch {
      return; // not deployed, or not visible to this user: no run to show
    }
    let run = runs[0] ?? null;
    if (
      run &&
      (isActive(run) || this._run?.id !== run.id || isActive(this._run))
    ) {
      run = await this._api.run(run.id);
    } else if (run && this._run?.id === run.id) {
      run = this._run;
    }
    if (run !== this._run) {
      this._run = run;
      this._graph = null;
      this.update();
    }
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const source = this.model.source;
    const graph = this._graphNow();
    const placed = this._problemsNow();
    const selectedSteps = graph.steps.filter(s =>
      this._selected.has(keyOf(s, graph.keys))
    );
    const selectedCount = [...this._selected].filter(
      k => k.includes('->') || graph.nodes.some(n => n.key === k)
    ).length;
    const context: IFormContext = {
      schema: this._schema,
      trans,
      problems: placed.byPath,
      onChange: (path, value) =>
        this.model.edit(s => s.set(path, value), path.join('.'))
    };
    const errors = source.errors;
    return (
      <ReactFlowProvider>
        {errors.length > 0 && (
          <div className="jp-WorkbenchBuilder-syntax" role="alert">
            {trans.__(
              'The YAML cannot be read (line %1: %2): fix it in the text editor; the canvas is read-only until then.',
              errors[0].line,
              errors[0].message
            )}
          </div>
        )}
        <div className="jp-WorkbenchBuilder-body">
          <Palette
            kinds={this._schema.stepKinds}
            trans={trans}
            onAdd={kind => this.editor.addKind(kind, null)}
          />
          <Canvas
            nodes={graph.nodes}
            edges={graph.edges}
            selected={this._selected}
            fitKey={this._fitKey}
            label={trans.__('Steps of the pipeline')}
            onSelect={selected => this.select(selected)}
            onMoved={(key, at) => {
              this._pins.set(key, at);
              this._positions?.set(key, at);
              this._graph = null;
            }}
            onConnect={(from, to) => this.editor.connect(from, to)}
            canConnect={(from, to) => this.editor.canConnect(from, to)}
            onDelete={() => this.editor.deleteSelection(this._selected)}
            onUndo={() => this.model.undo()}
            onRedo={() => this.model.redo()}
            onCopy={() => this.editor.copy(this._selected)}
            onPaste={text => this.editor.paste(text)}
            onDropNotebooks={(paths, at) => this.editor.addNotebooks(paths, at)}
            onDropKind={(kind, at) => this.editor.addKind(kind, at)}
          />
          <Properties
            context={context}
            spec={source.value}
            steps={graph.steps}
            step={
              selectedSteps.length === 1 && selectedCount === 1
                ? selectedSteps[0]
                : null
            }
            selectedCount={selectedCount}
            onRename={(from, to) => this.editor.rename(from, to)}
            onToggleDependency={(step, on, waits) =>
              waits
                ? this.editor.connect(on, step)
                : this.editor.disconnect(on, step)
            }
            onDelete={() => this.editor.deleteSelection(this._selected)}
          />
        </div>
      </ReactFlowProvider>
    );
  }

  private _onModelChanged(): void {
    this._graph = null;
    this._placed = null;
    // Steps renamed or removed from the text leave the selection.
    const keys = new Set(this._graphNow().nodes.map(n => n.key));
    const kept = [...this._selected].filter(
      k => keys.has(k) || k.includes('->')
    );
    if (kept.length !== this._selected.size) {
      this._selected = new Set(kept);
    }
    this.update();
  }

  private _problemsNow(): IPlacedProblems {
    if (!this._placed) {
      this._placed = placeOnGraph(this._problems, this.model.source);
    }
    return this._placed;
  }

  /**
   * The nodes and edges to draw, computed again only when the text, the
   * problems, the run or the positions changed.
   */
  private _graphNow(): IGraph {
    if (this._graph && this._graph.text === this.model.source.text) {
      return this._graph;
    }
    const source = this.model.source;
    const steps = graphSteps(source.value);
    const edges = graphEdges(steps);
    const keys = stepKeys(steps);
    const signature = `${steps.map(s => s.id).join(',')}|${edges.map(e => `${e.source}>${e.target}`).join(',')}`;
    if (!this._positions || this._signature !== signature) {
      const pins = new Map<string, IPoint>();
      for (const [key, at] of this._pins) {
        pins.set(key, at);
      }
      const placed = layoutSteps(steps, edges, pins);
      if (!this._fitted) {
        // Fit the view to the file as opened (later steps stay where added).
        this._fitted = true;
        if (steps.length > 0) {
          // (React Flow would fit an empty view when the first step comes.)
          this._fitKey++;
        }
      }
      this._positions = placed;
      this._signature = signature;
    }
    const placed = this._problemsNow();
    const attempts = lastAttempts(this._run);
    const trans = this._trans;
    const nodes: ICanvasNode[] = steps.map(step => {
      const key = keyOf(step, keys);
      const attempt = attempts.get(step.id);
      return {
        key,
        position: this._positions!.get(step.id) ?? { x: 0, y: 0 },
        data: {
          id: step.id,
          kind: step.kind,
          detail: step.detail,
          problems: placed.byStep.get(step.index) ?? [],
          state: this._run ? stepState(this._run, step.id) : 'none',
          attempt: attempt?.attempt ?? null,
          duration: attempt?.duration_s ?? null,
          duplicate: key !== step.id,
          labels: {
            input: trans.__('%1 waits for…', step.id),
            output: trans.__('…waits for %1', step.id),
            problems: trans.__('problems')
          }
        }
      };
    });
    this._graph = { text: source.text, steps, edges, nodes, keys };
    return this._graph;
  }

  private _api: PipelinesAPI;
  private _fitKey = 0;
  private _fitted = false;
  private _graph: IGraph | null = null;
  private _pins = new Map<string, IPoint>();
  private _placed: IPlacedProblems | null = null;
  private _positions: Map<string, IPoint> | null = null;
  private _problems: IProblem[] = [];
  private _run: IRun | null = null;
  private _schema: PipelineSchema;
  private _selected = new Set<string>();
  private _signature = '';
  private _trans: TranslationBundle;
}

interface IGraph {
  text: string;
  steps: IGraphStep[];
  edges: IGraphEdge[];
  nodes: ICanvasNode[];
  keys: Map<string, number>;
}

/**
 * How many steps use each id.
 */
function stepKeys(steps: IGraphStep[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const step of steps) {
    counts.set(step.id, (counts.get(step.id) ?? 0) + 1);
  }
  return counts;
}

/**
 * A step's key on the canvas: its id, or `#index` when the id is empty or
 * repeated (the canvas needs unique keys; validation reports the repeat).
 */
function keyOf(step: IGraphStep, counts: Map<string, number>): string {
  return step.id && counts.get(step.id) === 1 ? step.id : `#${step.index}`;
}

/**
 * A namespace for BuilderPanel statics.
 */
export namespace BuilderPanel {
  /**
   * Options of the panel.
   */
  export interface IOptions {
    api: PipelinesAPI;
    trans: TranslationBundle;
    schema: PipelineSchema;
    shared: BuilderModel.IOptions['shared'];
    /**
     * The document's path, as the file browser names it.
     */
    path: () => string;
  }
}
