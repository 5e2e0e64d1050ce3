/**
 * Registers the Pipeline Editor: its widget factory on YAML files ("Open
 * With"; the text editor stays the default opener, the YAML being the source
 * of truth), and the commands to open a file in it, beside the text editor,
 * and to start a new pipeline.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { TranslationBundle } from '@jupyterlab/translation';

import { PipelinesAPI } from '../pipelines/api';
import { PipelineFileCommandIDs } from '../pipelines/fileCommands';
import { IDeployment } from '../pipelines/tokens';
import { isYamlPath } from '../pipelines/yaml';
import { PIPELINE_EDITOR_FACTORY, PipelineEditorFactory } from './factory';
import type { PipelineSchema } from './schema';

/**
 * Command ids of the pipeline editor.
 */
export namespace PipelineEditorCommandIDs {
  /**
   * Open a pipeline file (`path`, the file browser's selection, or the text
   * editor in front, beside which it opens) in the Pipeline Editor.
   */
  export const open = 'workbench:pipeline-editor-open';

  /**
   * Make a new pipeline file in the file browser's folder and open it.
   */
  export const create = 'workbench:pipeline-editor-new';
}

/**
 * Name of JupyterLab's text editor widget factory.
 */
const TEXT_FACTORY = 'Editor';

/**
 * What the plugin gives the pipeline editor.
 */
export interface IPipelineEditorOptions {
  app: JupyterFrontEnd;
  api: PipelinesAPI;
  trans: TranslationBundle;
  palette: ICommandPalette | null;
  browsers: IFileBrowserFactory | null;
  /**
   * Ask for parameters and run a deployed pipeline (the panel's run dialog).
   */
  runPipeline: (name: string) => Promise<unknown>;
}

/**
 * A new pipeline: a name and an empty list of steps to drop notebooks into.
 */
export function newPipelineText(name: string): string {
  return (
    `name: ${name}\n` +
    'description: ""\n' +
    '# Drop notebooks from the file browser onto the canvas to add steps.\n' +
    'steps: []\n'
  );
}

/**
 * Add the Pipeline Editor to JupyterLab.
 */
export function addPipelineEditor(options: IPipelineEditorOptions): void {
  const { app, api, trans } = options;
  const { commands, docRegistry } = app;
  const contents = app.serviceManager.contents;

  let schema: Promise<PipelineSchema> | null = null;
  const loadSchema = (): Promise<PipelineSchema> => {
    if (!schema) {
      schema = import('./schema').then(
        async ({ PipelineSchema, FALLBACK_SCHEMA }) => {
          try {
            return new PipelineSchema(await api.schema());
          } catch {
            // An older server: notebook steps only.
            return new PipelineSchema(FALLBACK_SCHEMA);
          }
        }
      );
    }
    return schema;
  };

  const openText = async (widget: IDocumentWidget): Promise<unknown> =>
    commands.execute('docmanager:open', {
      path: widget.context.path,
      factory: TEXT_FACTORY,
      options: { mode: 'split-left', ref: widget.id }
    });

  const factory = new PipelineEditorFactory({
    name: PIPELINE_EDITOR_FACTORY,
    label: trans.__('Pipeline Editor'),
    fileTypes: ['yaml'],
    defaultFor: [],
    modelName: 'text',
    preferKernel: false,
    canStartKernel: false,
    api,
    trans,
    schema: loadSchema,
    localPath: path => contents.localPath(path),
    actions: {
      validate: () => commands.execute(PipelineFileCommandIDs.validate),
      deploy: async () => {
        const deployment = (await commands.execute(
          PipelineFileCommandIDs.deploy
        )) as IDeployment | null;
        return deployment?.name ?? null;
      },
      run: options.runPipeline,
      openText
    }
  });
  docRegistry.addWidgetFactory(factory);

  const selectedYaml = (): string | null => {
    const browser = options.browsers?.tracker.currentWidget;
    const [item, more] = browser ? Array.from(browser.selectedItems()) : [];
    return item && !more && item.type !== 'directory' && isYamlPath(item.path)
      ? item.path
      : null;
  };

  commands.addCommand(PipelineEditorCommandIDs.open, {
    label: trans.__('Open in Pipeline Editor'),
    caption: trans.__(
      'Edit a pipeline YAML file as a graph of steps, beside its text'
    ),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'The pipeline YAML file' },
          from: {
            type: 'string',
            enum: ['filebrowser'],
            description: "Take the file browser's selected file"
          }
        }
      }
    },
    execute: async args => {
      const current = app.shell.currentWidget as IDocumentWidget | null;
      let path = typeof args.path === 'string' ? args.path : null;
      let beside: string | null = null;
      if (!path && args.from === 'filebrowser') {
        path = selectedYaml();
      } else if (
        !path &&
        current?.context &&
        isYamlPath(current.context.path)
      ) {
        path = current.context.path;
        beside = current.id;
      }
      if (!path) {
        Notification.warning(
          trans.__(
            'No pipeline file: open a pipeline YAML file, or right-click one in the file browser.'
          ),
          { autoClose: 6000 }
        );
        return null;
      }
      return commands.execute('docmanager:open', {
        path,
        factory: PIPELINE_EDITOR_FACTORY,
        ...(beside ? { options: { mode: 'split-right', ref: beside } } : {})
      });
    }
  });

  commands.addCommand(PipelineEditorCommandIDs.create, {
    label: trans.__('New Pipeline'),
    caption: trans.__(
      'Make a pipeline file in the current folder and open it in the Pipeline Editor'
    ),
    describedBy: { args: { type: 'object', properties: {} } },
    execute: async () => {
      const folder = options.browsers?.tracker.currentWidget?.model.path ?? '';
      let name = 'pipeline';
      for (let n = 2; ; n++) {
        try {
          await contents.get(PathExt.join(folder, `${name}.yaml`), {
            content: false
          });
          name = `pipeline_${n}`;
        } catch {
          break; // free
        }
      }
      const path = PathExt.join(folder, `${name}.yaml`);
      await contents.save(path, {
        type: 'file',
        format: 'text',
        content: newPipelineText(name.replace(/_/g, '-'))
      });
      return commands.execute('docmanager:open', {
        path,
        factory: PIPELINE_EDITOR_FACTORY
      });
    }
  });

  app.contextMenu.addItem({
    command: PipelineEditorCommandIDs.open,
    args: { from: 'filebrowser' },
    selector: '.jp-DirListing-item[data-file-type="yaml"]',
    rank: 59
  });
  app.contextMenu.addItem({
    command: PipelineEditorCommandIDs.create,
    selector: '.jp-DirListing-content',
    rank: 60
  });
  for (const command of [
    PipelineEditorCommandIDs.open,
    PipelineEditorCommandIDs.create
  ]) {
    options.palette?.addItem({ command, category: trans.__('Workbench') });
  }
}
