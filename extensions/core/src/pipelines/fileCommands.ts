/**
 * Validate and deploy a pipeline file from JupyterLab itself: on a YAML file
 * in the file browser (context menu), or from the palette on the YAML file in
 * the editor in front. The user's server reads the file (in hub mode it sends
 * it on to the workbench service), so the CLI is not needed.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import { PipelinesAPI } from './api';
import { deploymentSummary, specErrorsOf, validationSummary } from './deploy';
import { IDeployment, IValidation } from './tokens';
import { isYamlPath } from './yaml';

/**
 * Command ids of the pipeline file commands.
 */
export namespace PipelineFileCommandIDs {
  /**
   * Check a pipeline file (`path`, else the file browser's selection when
   * `from` is `filebrowser`, else the editor in front) and show every problem.
   */
  export const validate = 'workbench:pipeline-validate-file';

  /**
   * Deploy a pipeline file (found as for `validate`) as a new version.
   */
  export const deploy = 'workbench:pipeline-deploy-file';
}

/**
 * Items of the file browser these commands are offered on: YAML files
 * (JupyterLab's `yaml` file type covers `.yaml` and `.yml`).
 */
const YAML_ITEM = '.jp-DirListing-item[data-file-type="yaml"]';

/**
 * Class of the pipeline editor's content: its file is a pipeline file too.
 */
export const PIPELINE_EDITOR_CLASS = 'jp-WorkbenchBuilder-host';

/**
 * A document widget in the main area, as far as used here (typed locally:
 * `@jupyterlab/docregistry` is not a dependency of this package).
 */
interface IOpenDocument extends Widget {
  readonly context: {
    readonly path: string;
    readonly model: { readonly dirty: boolean; toString(): string };
    save(): Promise<void>;
  };
  readonly content: Widget;
}

/**
 * The file a command acts on, and its editor when it came from one.
 */
interface IPipelineFile {
  path: string;
  editor: IOpenDocument | null;
}

/**
 * What the file commands need from the pipelines plugin.
 */
export interface IPipelineFileOptions {
  app: JupyterFrontEnd;
  api: PipelinesAPI;
  trans: TranslationBundle;
  palette: ICommandPalette | null;
  browsers: IFileBrowserFactory | null;
  /**
   * Report a failure in the notification area (`what` says what was tried).
   */
  notifyError: (what: string, error: unknown) => string;
  /**
   * A pipeline was deployed (to reload the panel).
   */
  onDeployed: (deployment: IDeployment) => void;
  /**
   * Open a deployed pipeline's view.
   */
  openPipeline: (name: string) => void;
}

/**
 * Add the validate and deploy commands, to the file browser's context menu
 * on YAML files and to the palette.
 */
export function addPipelineFileCommands(options: IPipelineFileOptions): void {
  const { app, api, trans } = options;
  const { commands, shell } = app;
  const contents = app.serviceManager.contents;
  // Files being deployed or checked: a second click waits for the first.
  const busy = new Set<string>();

  const fromBrowser = (): IPipelineFile | null => {
    const browser = options.browsers?.tracker.currentWidget;
    const selected = browser ? Array.from(browser.selectedItems()) : [];
    if (
      selected.length !== 1 ||
      selected[0].type === 'directory' ||
      !isYamlPath(selected[0].path)
    ) {
      return null;
    }
    return { path: selected[0].path, editor: null };
  };

  const fromEditor = (): IPipelineFile | null => {
    const widget = shell.currentWidget as IOpenDocument | null;
    if (
      !widget?.context ||
      !(
        widget.content?.hasClass('jp-FileEditor') ||
        widget.content?.hasClass(PIPELINE_EDITOR_CLASS)
      ) ||
      !isYamlPath(widget.context.path)
    ) {
      return null;
    }
    return { path: widget.context.path, editor: widget };
  };

  const target = (args: { [key: string]: unknown }): IPipelineFile | null => {
    if (typeof args.path === 'string' && args.path) {
      return isYamlPath(args.path) ? { path: args.path, editor: null } : null;
    }
    return args.from === 'filebrowser' ? fromBrowser() : fromEditor();
  };

  const noFile = (): void => {
    Notification.warning(
      trans.__(
        'No pipeline file: open a pipeline YAML file in the editor, or right-click one in the file browser.'
      ),
      { autoClose: 6000 }
    );
  };

  const openFile = (path: string) => () =>
    void commands.execute('docmanager:open', { path });

  const showProblems = async (
    title: string,
    file: IPipelineFile,
    errors: IValidation['errors']
  ): Promise<void> => {
    const { showSpecErrors } = await import('./components/SpecErrors');
    await showSpecErrors({
      trans,
      title,
      errors,
      // An open editor marks the problems at their lines already.
      onOpen: file.editor ? undefined : openFile(file.path)
    });
  };

  const validate = async (file: IPipelineFile): Promise<void> => {
    const name = PathExt.basename(file.path);
    const local = contents.localPath(file.path);
    let validation: IValidation;
    try {
      // From the editor: the text as it reads now, saved or not.
      validation = file.editor
        ? await api.validate(file.editor.context.model.toString(), local)
        : await api.validateFile(local);
    } catch (error) {
      options.notifyError(trans.__('Validating %1 failed', name), error);
      return;
    }
    const summary = validationSummary(name, validation, trans);
    if (validation.errors.length === 0) {
      Notification.success(summary, { autoClose: 5000 });
    } else {
      await showProblems(summary, file, validation.errors);
    }
  };

  const deploy = async (file: IPipelineFile): Promise<IDeployment | null> => {
    const name = PathExt.basename(file.path);
    // No "deploying…" notification to update: JupyterLab drops an update that
    // comes before its toast is shown, and a deploy takes milliseconds.
    let deployment: IDeployment;
    try {
      // What is deployed is the file on disk: the editor's text first.
      if (file.editor?.context.model.dirty) {
        await file.editor.context.save();
      }
      deployment = await api.deploy(contents.localPath(file.path));
    } catch (error) {
      const errors = specErrorsOf(error);
      if (errors) {
        await showProblems(
          trans._n(
            '%2 was not deployed: %1 problem',
            '%2 was not deployed: %1 problems',
            errors.length,
            name
          ),
          file,
          errors
        );
      } else {
        options.notifyError(trans.__('Deploying %1 failed', name), error);
      }
      return null;
    }
    options.onDeployed(deployment);
    Notification.success(deploymentSummary(deployment, trans), {
      autoClose: 8000,
      actions: [
        {
          label: trans.__('Open'),
          caption: trans.__('Show the pipeline and its runs'),
          callback: () => options.openPipeline(deployment.name)
        }
      ]
    });
    return deployment;
  };

  // Deploy resolves with the deployment (null when it failed): the pipeline
  // editor runs what it deployed.
  const act =
    <T>(action: (file: IPipelineFile) => Promise<T>) =>
    async (args: { [key: string]: unknown }): Promise<T | null> => {
      const file = target(args);
      if (!file) {
        noFile();
        return null;
      }
      if (busy.has(file.path)) {
        return null;
      }
      busy.add(file.path);
      try {
        return await action(file);
      } finally {
        busy.delete(file.path);
      }
    };

  const describedBy = {
    args: {
      type: 'object',
      properties: {
        path: {
          type: 'string',
          description: 'The pipeline YAML file, as the file browser names it'
        },
        from: {
          type: 'string',
          enum: ['filebrowser'],
          description:
            "Take the file browser's selected file instead of the editor in front"
        }
      }
    }
  };

  commands.addCommand(PipelineFileCommandIDs.validate, {
    label: trans.__('Validate Pipeline'),
    caption: trans.__(
      'Check a pipeline YAML file and its notebooks, and list every problem with its line'
    ),
    describedBy,
    isEnabled: args => target(args) !== null,
    execute: act(validate)
  });

  commands.addCommand(PipelineFileCommandIDs.deploy, {
    label: trans.__('Deploy Pipeline'),
    caption: trans.__(
      'Deploy a pipeline YAML file and its notebooks as a new version (nothing changes when they did not)'
    ),
    describedBy,
    isEnabled: args => target(args) !== null,
    execute: act(deploy)
  });

  [PipelineFileCommandIDs.validate, PipelineFileCommandIDs.deploy].forEach(
    (command, index) => {
      app.contextMenu.addItem({
        command,
        args: { from: 'filebrowser' },
        selector: YAML_ITEM,
        rank: 60 + index
      });
      options.palette?.addItem({ command, category: trans.__('Workbench') });
    }
  );
}
