/**
 * The Pipeline Editor as a JupyterLab document widget on YAML files: the
 * same document model as the text editor (so both can be open side by side
 * and show each other's edits at once), a toolbar of JupyterLab buttons, and
 * the validation bar above the canvas. The canvas itself (React Flow, dagre,
 * the YAML library) loads the first time an editor opens.
 */
import {
  ABCWidgetFactory,
  DocumentRegistry,
  DocumentWidget,
  IDocumentWidget
} from '@jupyterlab/docregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  checkIcon,
  fileUploadIcon,
  redoIcon,
  runIcon,
  textEditorIcon,
  ToolbarButton,
  treeViewIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import type { IDisposable } from '@lumino/disposable';
import { Panel } from '@lumino/widgets';

import { PipelinesAPI } from '../pipelines/api';
import { PIPELINE_EDITOR_CLASS } from '../pipelines/fileCommands';
import type { BuilderPanel } from './panel';
import type { PipelineSchema } from './schema';

/**
 * Name of the widget factory ("Open With" lists it by its label).
 */
export const PIPELINE_EDITOR_FACTORY = 'Pipeline Editor';

/**
 * What the toolbar asks of the plugin.
 */
export interface IEditorActions {
  validate: () => Promise<unknown>;
  /**
   * Save and deploy the file in front; the deployed pipeline's name, or null.
   */
  deploy: () => Promise<string | null>;
  /**
   * Ask for parameters and start a run of a deployed pipeline.
   */
  run: (name: string) => Promise<unknown>;
  /**
   * Open the file in the text editor beside `widget`.
   */
  openText: (widget: IDocumentWidget) => Promise<unknown>;
}

/**
 * The document widget's content: a holder the canvas goes into once loaded.
 */
export class BuilderHost extends Panel {
  constructor() {
    super();
    this.addClass(PIPELINE_EDITOR_CLASS);
    this.ready = new Promise(resolve => (this._resolve = resolve));
  }

  /**
   * Resolves with the canvas once it is loaded.
   */
  readonly ready: Promise<BuilderPanel>;

  /**
   * The canvas, once loaded.
   */
  get panel(): BuilderPanel | null {
    return this._panel;
  }

  /**
   * Put the loaded canvas in.
   */
  setPanel(panel: BuilderPanel): void {
    this._panel = panel;
    this.addWidget(panel);
    this._resolve(panel);
  }

  /**
   * Checks the text with the server (disposed with the editor).
   */
  validator: IDisposable | null = null;

  dispose(): void {
    this.validator?.dispose();
    this.validator = null;
    super.dispose();
  }

  private _panel: BuilderPanel | null = null;
  private _resolve: (panel: BuilderPanel) => void = () => undefined;
}

/**
 * Makes Pipeline Editors for YAML files.
 */
export class PipelineEditorFactory extends ABCWidgetFactory<
  IDocumentWidget<BuilderHost>,
  DocumentRegistry.ICodeModel
> {
  constructor(options: PipelineEditorFactory.IOptions) {
    super(options);
    this._api = options.api;
    this._trans = options.trans;
    this._schema = options.schema;
    this._actions = options.actions;
    this._localPath = options.localPath;
  }

  protected createNewWidget(
    context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>
  ): IDocumentWidget<BuilderHost> {
    const content = new BuilderHost();
    const widget = new DocumentWidget({ content, context });
    widget.addClass('jp-WorkbenchBuilder-document');
    this._addToolbar(widget);
    void Promise.all([
      import('./panel'),
      import('../pipelines/editorValidation'),
      this._schema(),
      context.ready
    ]).then(([{ BuilderPanel }, { PipelineYamlValidator }, schema]) => {
      if (widget.isDisposed) {
        return;
      }
      const panel = new BuilderPanel({
        api: this._api,
        trans: this._trans,
        schema,
        shared: context.model
          .sharedModel as unknown as BuilderPanel.IOptions['shared'],
        path: () => context.path
      });
      content.setPanel(panel);
      // The server's checks as the text changes, shown on the canvas too.
      content.validator = new PipelineYamlValidator({
        widget: widget as never,
        api: this._api,
        trans: this._trans,
        localPath: this._localPath,
        always: true,
        onGoTo: problem => panel.goTo(problem),
        onState: state =>
          panel.setProblems(state.status === 'invalid' ? state.problems : [])
      });
    });
    return widget;
  }

  private _addToolbar(widget: IDocumentWidget<BuilderHost>): void {
    const trans = this._trans;
    const actions = this._actions;
    const onPanel = (act: (panel: BuilderPanel) => unknown) => () =>
      void widget.content.ready.then(act);
    const button = (
      name: string,
      options: ConstructorParameters<typeof ToolbarButton>[0]
    ): void => {
      widget.toolbar.addItem(name, new ToolbarButton(options));
    };
    button('undo', {
      icon: undoIcon,
      tooltip: trans.__(
        'Undo (Ctrl+Z): the text editor and the canvas share one history'
      ),
      onClick: onPanel(panel => panel.model.undo())
    });
    button('redo', {
      icon: redoIcon,
      tooltip: trans.__('Redo (Ctrl+Shift+Z)'),
      onClick: onPanel(panel => panel.model.redo())
    });
    button('arrange', {
      icon: treeViewIcon,
      label: trans.__('Arrange'),
      tooltip: trans.__('Lay the steps out again, left to right'),
      onClick: onPanel(panel => panel.arrange())
    });
    button('yaml', {
      icon: textEditorIcon,
      label: trans.__('YAML'),
      tooltip: trans.__('Open the YAML text beside the canvas'),
      onClick: () => void actions.openText(widget)
    });
    button('validate', {
      icon: checkIcon,
      label: trans.__('Validate'),
      tooltip: trans.__('Check the pipeline and its notebooks now'),
      onClick: () => void actions.validate()
    });
    button('deploy', {
      icon: fileUploadIcon,
      label: trans.__('Deploy'),
      tooltip: trans.__('Save and deploy as a new version'),
      onClick: () =>
        void actions.deploy().then(() => widget.content.panel?.refresh())
    });
    button('run', {
      icon: runIcon,
      label: trans.__('Run'),
      tooltip: trans.__('Save, deploy and run now, with parameters'),
      onClick: () =>
        void actions.deploy().then(async name => {
          if (name) {
            await actions.run(name);
            await widget.content.panel?.refresh();
          }
        })
    });
  }

  private _actions: IEditorActions;
  private _api: PipelinesAPI;
  private _localPath: (path: string) => string;
  private _schema: () => Promise<PipelineSchema>;
  private _trans: TranslationBundle;
}

/**
 * A namespace for PipelineEditorFactory statics.
 */
export namespace PipelineEditorFactory {
  /**
   * Options of the factory.
   */
  export interface IOptions extends DocumentRegistry.IWidgetFactoryOptions<
    IDocumentWidget<BuilderHost>
  > {
    api: PipelinesAPI;
    trans: TranslationBundle;
    /**
     * The server's pipeline schema (fetched once).
     */
    schema: () => Promise<PipelineSchema>;
    actions: IEditorActions;
    localPath: (path: string) => string;
  }
}
