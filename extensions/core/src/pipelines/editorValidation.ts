/**
 * Pipeline YAML files checked as they are edited: every file editor whose
 * file is a pipeline gets a bar of problems above the text and the problems
 * drawn at their lines, from the server's `pipelines/validate`.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { TranslationBundle } from '@jupyterlab/translation';
import { EditorView } from '@codemirror/view';
import { IDisposable } from '@lumino/disposable';
import { Debouncer } from '@lumino/polling';
import { ISignal } from '@lumino/signaling';
import type { BoxPanel, Widget } from '@lumino/widgets';

import { APIError, describeError } from '../request';
import { PipelinesAPI } from './api';
import { ValidationBar, ValidationState } from './components/ValidationBar';
import { problemsExtension, setProblems } from './diagnostics';
import { IValidation } from './tokens';
import {
  IProblem,
  isPipelineYaml,
  isYamlPath,
  placeProblems,
  VALIDATE_DELAY
} from './yaml';

/**
 * Name of JupyterLab's text editor widget factory.
 */
const EDITOR_FACTORY = 'Editor';

/**
 * The parts of a file editor's document widget used here (typed locally:
 * `@jupyterlab/fileeditor` is not a dependency of this package).
 */
export interface IEditorDocument extends Widget {
  readonly context: {
    readonly path: string;
    readonly ready: Promise<void>;
    readonly pathChanged: ISignal<unknown, string>;
    readonly model: {
      readonly contentChanged: ISignal<unknown, void>;
      toString(): string;
    };
  };
  readonly content: Widget & { editor?: unknown };
  readonly contentHeader?: BoxPanel;
}

/**
 * A JupyterLab CodeMirror editor (`CodeMirrorEditor`), as far as used here.
 */
interface ICodeMirrorEditor {
  readonly editor: EditorView;
  injectExtension(extension: unknown): void;
}

function codeMirrorOf(editor: unknown): ICodeMirrorEditor | null {
  const candidate = editor as Partial<ICodeMirrorEditor> | null;
  if (
    candidate &&
    typeof candidate.injectExtension === 'function' &&
    candidate.editor instanceof EditorView
  ) {
    return candidate as ICodeMirrorEditor;
  }
  return null;
}

/**
 * Whether a request failed because of the `path` sent along (a file the
 * server cannot read: not saved yet, or contents not on its disk).
 */
function pathRefused(error: unknown): boolean {
  return (
    error instanceof APIError && (error.status === 404 || error.status === 400)
  );
}

/**
 * Checks one open YAML file while it is a pipeline, as its text changes.
 */
export class PipelineYamlValidator implements IDisposable {
  /**
   * Watch `widget`; nothing shows until its text is recognised as a pipeline.
   */
  constructor(options: PipelineYamlValidator.IOptions) {
    this._widget = options.widget;
    this._api = options.api;
    this._trans = options.trans;
    this._localPath = options.localPath;
    this._always = options.always ?? false;
    this._onGoTo = options.onGoTo ?? null;
    this._onState = options.onState ?? null;
    this._debouncer = new Debouncer(() => this._check(), VALIDATE_DELAY);
    const context = this._widget.context;
    void context.ready.then(() => {
      if (this._disposed) {
        return;
      }
      context.model.contentChanged.connect(this._onChange, this);
      context.pathChanged.connect(this._onChange, this);
      void this._check();
    });
    this._widget.disposed.connect(this.dispose, this);
  }

  /**
   * The bar above the editor, once the file is recognised as a pipeline.
   */
  get bar(): ValidationBar | null {
    return this._bar;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    const context = this._widget.context;
    context.model.contentChanged.disconnect(this._onChange, this);
    context.pathChanged.disconnect(this._onChange, this);
    this._widget.disposed.disconnect(this.dispose, this);
    this._debouncer.dispose();
    this._bar?.dispose();
    this._bar = null;
  }

  private _onChange(): void {
    void this._debouncer.invoke();
  }

  private async _check(): Promise<void> {
    if (this._disposed) {
      return;
    }
    const path = this._widget.context.path;
    if (!this._bar && !isYamlPath(path) && !this._always) {
      return;
    }
    const text = this._widget.context.model.toString();
    if (!this._bar) {
      if (!this._always && !isPipelineYaml(path, text)) {
        return;
      }
      this._attach();
      if (!this._bar) {
        return;
      }
    }
    const seq = ++this._seq;
    this._bar!.checking = true;
    let validation: IValidation;
    try {
      validation = await this._validate(text, this._localPath(path));
    } catch (error) {
      if (seq === this._seq && this._bar) {
        this._bar.checking = false;
        this._setState({ status: 'failed', error: describeError(error) });
        this._show([]);
      }
      return;
    }
    // A newer check is under way, or the text changed since: that one counts.
    if (seq !== this._seq || !this._bar) {
      return;
    }
    if (text !== this._widget.context.model.toString()) {
      return;
    }
    this._bar.checking = false;
    const problems = placeProblems(validation.errors, text);
    this._setState(
      problems.length === 0
        ? { status: 'valid' }
        : { status: 'invalid', problems }
    );
    this._show(problems);
  }

  private _setState(state: ValidationState): void {
    this._bar!.state = state;
    this._onState?.(state);
  }

  /**
   * Check the text now rather than after the quiet time.
   */
  async checkNow(): Promise<void> {
    await this._check();
  }

  private async _validate(text: string, path: string): Promise<IValidation> {
    if (this._sendPath) {
      try {
        return await this._api.validate(text, path);
      } catch (error) {
        if (!pathRefused(error)) {
          throw error;
        }
        // The notebooks cannot be looked up next to it: check the text alone.
        this._sendPath = false;
      }
    }
    return this._api.validate(text);
  }

  private _attach(): void {
    this._bar = new ValidationBar({
      trans: this._trans,
      onGoTo: problem =>
        this._onGoTo ? this._onGoTo(problem) : this._goTo(problem)
    });
    const header = this._widget.contentHeader;
    if (header) {
      header.addWidget(this._bar);
    } else {
      this._bar.dispose();
      this._bar = null;
      return;
    }
    const editor = codeMirrorOf(this._widget.content.editor);
    if (editor) {
      editor.injectExtension(problemsExtension);
      this._editor = editor;
    }
  }

  private _show(problems: IProblem[]): void {
    this._editor?.editor.dispatch({ effects: setProblems.of(problems) });
  }

  private _goTo(problem: IProblem): void {
    const view = this._editor?.editor;
    if (!view || problem.line === null) {
      return;
    }
    const line = view.state.doc.line(
      Math.min(problem.line, view.state.doc.lines)
    );
    const anchor = line.from + Math.min(problem.from, line.length);
    view.dispatch({
      selection: { anchor },
      effects: EditorView.scrollIntoView(anchor, { y: 'center' })
    });
    view.focus();
  }

  private _always: boolean;
  private _api: PipelinesAPI;
  private _onGoTo: ((problem: IProblem) => void) | null;
  private _onState: ((state: ValidationState) => void) | null;
  private _bar: ValidationBar | null = null;
  private _debouncer: Debouncer;
  private _disposed = false;
  private _editor: ICodeMirrorEditor | null = null;
  private _localPath: (path: string) => string;
  private _sendPath = true;
  private _seq = 0;
  private _trans: TranslationBundle;
  private _widget: IEditorDocument;
}

/**
 * A namespace for PipelineYamlValidator statics.
 */
export namespace PipelineYamlValidator {
  /**
   * Options of a validator.
   */
  export interface IOptions {
    widget: IEditorDocument;
    api: PipelinesAPI;
    trans: TranslationBundle;
    /**
     * The path relative to the server's root (without a drive prefix).
     */
    localPath: (path: string) => string;
    /**
     * Check the file whatever its name and content (the pipeline editor's:
     * it was opened as a pipeline).
     */
    always?: boolean;
    /**
     * Show a problem (default: move the text editor's cursor to its line).
     */
    onGoTo?: (problem: IProblem) => void;
    /**
     * Called with each result shown.
     */
    onState?: (state: ValidationState) => void;
  }
}

/**
 * Check every YAML file opened in JupyterLab's text editor that is a
 * pipeline, from now on (and those already open once the layout is restored).
 */
export function watchPipelineEditors(
  app: JupyterFrontEnd,
  api: PipelinesAPI,
  trans: TranslationBundle
): void {
  // Each validator disposes itself with its widget.
  const validators = new WeakMap<Widget, PipelineYamlValidator>();
  const contents = app.serviceManager.contents;
  const watch = (widget: Widget): void => {
    const doc = widget as IEditorDocument;
    if (
      validators.has(widget) ||
      !doc.context ||
      !doc.content?.hasClass('jp-FileEditor')
    ) {
      return;
    }
    validators.set(
      widget,
      new PipelineYamlValidator({
        widget: doc,
        api,
        trans,
        localPath: path => contents.localPath(path)
      })
    );
  };

  let connected = false;
  const connect = (): void => {
    const factory = app.docRegistry.getWidgetFactory(EDITOR_FACTORY);
    if (factory && !connected) {
      connected = true;
      factory.widgetCreated.connect((_, widget) => watch(widget));
    }
  };
  // The editor's factory is registered by another plugin, maybe after this one.
  connect();
  app.docRegistry.changed.connect((_, change) => {
    if (change.type === 'widgetFactory' && change.name === EDITOR_FACTORY) {
      connect();
    }
  });
  void app.restored.then(() => {
    for (const widget of app.shell.widgets('main')) {
      watch(widget);
    }
  });
}
