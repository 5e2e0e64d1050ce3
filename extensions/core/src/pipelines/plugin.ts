import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

// Registers a widget factory and commands at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addPipelineEditor } from '../builder/plugin';
import { describeError } from '../request';
import { TRANSLATION_DOMAIN } from '../tokens';
import { PipelinesAPI } from './api';
// The panel is in the sidebar from the start, so it is needed at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { PipelinesPanel } from './components/PipelinesPanel';
import { pipelinesIcon } from './components/icons';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { IPipelineActions, PipelineView } from './components/PipelineView';
// The commands and the context menu entry are registered at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addPipelineFileCommands } from './fileCommands';
import {
  executedNotebookPath,
  readOnlyNotebook,
  RUNS_FOLDER
} from './notebook';
import { ScheduleModel } from './schedules';
import { IAttempt, IPipeline, IRun } from './tokens';

/**
 * Command ids of the pipelines panel.
 */
export namespace PipelinesCommandIDs {
  /**
   * Show the pipelines panel, or with `name` a pipeline's view.
   */
  export const open = 'workbench:pipelines-open';

  /**
   * Ask for parameters and run a pipeline (`name`, else the one in front).
   */
  export const run = 'workbench:pipeline-run';

  /**
   * Load the pipelines panel and the open pipeline views again.
   */
  export const refresh = 'workbench:pipelines-refresh';
}

/**
 * Rank in the left sidebar: right after the data catalog (150).
 */
const SIDEBAR_RANK = 160;

const NAME_ARGS = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Name of a deployed pipeline' }
  }
};

/**
 * The pipelines: a sidebar panel of deployed pipelines and a view per
 * pipeline with its DAG, runs, and the failures of its steps.
 */
export const pipelinesPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:pipelines',
  description:
    'Pipelines panel and Pipeline Editor: deployed pipelines with their last run and next scheduled run, a view per pipeline with its DAG coloured by run state, run history, run now, cancel, repair, failed step details and schedule pause/resume/trigger; pipeline YAML files checked as they are edited, and validated or deployed from the file browser or the palette; a visual editor of pipeline YAML files (Open With > Pipeline Editor).',
  autoStart: true,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    ITranslator,
    IFileBrowserFactory
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    browsers: IFileBrowserFactory | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new PipelinesAPI(app.serviceManager.serverSettings);
    const schedules = new ScheduleModel(api);
    const { commands, shell } = app;
    const contents = app.serviceManager.contents;

    const notifyError = (
      what: string,
      error: unknown,
      notify = true
    ): string => {
      const message = `${what}: ${describeError(error, trans)}`;
      if (notify) {
        Notification.error(message, { autoClose: 10000 });
      }
      return message;
    };

    const startRun = async (
      pipeline: IPipeline,
      lastRun: IRun | null
    ): Promise<IRun | null> => {
      const { askRunParameters } = await import('./components/RunDialog');
      const { initialParameters } = await import('./format');
      const asked = await askRunParameters(
        trans,
        pipeline.name,
        initialParameters(pipeline.parameters, lastRun),
        pipeline.parameters
      );
      if (!asked) {
        return null;
      }
      try {
        const run = await api.start(pipeline.name, {
          parameters: asked.parameters,
          ...(asked.logicalDate ? { logical_date: asked.logicalDate } : {})
        });
        Notification.success(
          trans.__('Run %1 of %2 started', run.id.slice(0, 8), pipeline.name),
          { autoClose: 4000 }
        );
        return run;
      } catch (error) {
        notifyError(trans.__('Starting %1 failed', pipeline.name), error);
        return null;
      }
    };

    // Saving a folder that exists changes nothing; asking first whether it
    // exists logged a 404 in the console the first time.
    const ensureFolder = async (path: string): Promise<void> => {
      await contents.save(path, { type: 'directory' });
    };

    const openNotebook = async (
      run: IRun,
      attempt: IAttempt
    ): Promise<void> => {
      const content = await api.notebook(
        run.id,
        attempt.step_id,
        attempt.attempt
      );
      await ensureFolder(RUNS_FOLDER);
      await ensureFolder(`${RUNS_FOLDER}/${run.pipeline}`);
      const path = executedNotebookPath(run, attempt);
      await contents.save(path, {
        type: 'notebook',
        format: 'json',
        content: readOnlyNotebook(content)
      });
      // A record of what ran: no kernel to start, nothing to run it with.
      const widget = await commands.execute('docmanager:open', {
        path,
        kernelPreference: { shouldStart: false, canStart: false }
      });
      // A record of what ran: never saved back over.
      const model = widget?.context?.model;
      if (model && 'readOnly' in model) {
        model.readOnly = true;
      }
    };

    const actions: IPipelineActions = {
      runNow: startRun,
      openNotebook,
      error: notifyError
    };

    const tracker = new WidgetTracker<MainAreaWidget<PipelineView>>({
      namespace: 'workbench-pipeline'
    });

    const openPipeline = (name: string): MainAreaWidget<PipelineView> => {
      let widget = tracker.find(w => w.content.pipelineName === name);
      if (!widget) {
        const content = new PipelineView({
          api,
          name,
          schedules,
          trans,
          actions
        });
        widget = new MainAreaWidget({ content });
        widget.id = `workbench-pipeline-${name}`;
        widget.title.icon = pipelinesIcon;
        widget.title.closable = true;
        widget.title.label = name;
        content.onPipelineLoaded = pipeline => {
          widget!.title.caption = pipeline.description
            ? `${pipeline.name}: ${pipeline.description}`
            : pipeline.name;
        };
        shell.add(widget, 'main');
        void tracker.add(widget);
      }
      shell.activateById(widget.id);
      return widget;
    };

    const panel = new PipelinesPanel({
      api,
      schedules,
      trans,
      onOpen: name => void openPipeline(name),
      onError: notifyError
    });
    shell.add(panel, 'left', { rank: SIDEBAR_RANK, type: 'Pipelines' });
    restorer?.add(panel, 'workbench-pipelines');

    commands.addCommand(PipelinesCommandIDs.open, {
      label: args =>
        typeof args.name === 'string'
          ? trans.__('Open Pipeline %1', args.name)
          : trans.__('Show Pipelines'),
      caption: trans.__('Show the deployed pipelines, or one pipeline'),
      icon: args => (args.name ? undefined : pipelinesIcon),
      describedBy: { args: NAME_ARGS },
      execute: args => {
        if (typeof args.name === 'string' && args.name) {
          return openPipeline(args.name);
        }
        shell.activateById(panel.id);
        return panel;
      }
    });

    commands.addCommand(PipelinesCommandIDs.run, {
      label: args =>
        typeof args.name === 'string'
          ? trans.__('Run Pipeline %1…', args.name)
          : trans.__('Run Pipeline…'),
      caption: trans.__('Run a deployed pipeline now, with parameters'),
      describedBy: { args: NAME_ARGS },
      execute: async args => {
        let name = typeof args.name === 'string' ? args.name : '';
        const current = tracker.currentWidget;
        if (!name && current && shell.currentWidget === current) {
          name = current.content.pipelineName;
        }
        if (!name) {
          name = current?.content.pipelineName ?? '';
        }
        if (!name) {
          Notification.warning(
            trans.__(
              'No pipeline selected: open one in the Pipelines panel first.'
            ),
            { autoClose: 5000 }
          );
          return;
        }
        const view = openPipeline(name);
        try {
          await view.content.runNow();
        } catch (error) {
          notifyError(trans.__('Running %1 failed', name), error);
        }
      }
    });

    commands.addCommand(PipelinesCommandIDs.refresh, {
      label: trans.__('Refresh Pipelines'),
      caption: trans.__('Load the pipelines and their runs again'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        await Promise.all([
          panel.refresh(),
          ...tracker.filter(() => true).map(w => w.content.refresh())
        ]);
      }
    });

    for (const command of [
      PipelinesCommandIDs.open,
      PipelinesCommandIDs.run,
      PipelinesCommandIDs.refresh
    ]) {
      palette?.addItem({ command, category: trans.__('Workbench') });
    }

    addPipelineFileCommands({
      app,
      api,
      trans,
      palette,
      browsers,
      notifyError,
      onDeployed: () => void commands.execute(PipelinesCommandIDs.refresh),
      openPipeline: name => void openPipeline(name)
    });

    // The Pipeline Editor runs a pipeline with the same dialog as the panel.
    addPipelineEditor({
      app,
      api,
      trans,
      palette,
      browsers,
      runPipeline: async name => {
        const [pipeline, runs] = await Promise.all([
          api.pipeline(name),
          api.runs(name, 1)
        ]);
        return startRun(pipeline, runs[0] ?? null);
      }
    });

    // Pipeline YAML files opened in the text editor are checked as they are
    // edited; loaded apart, as it is not needed to show the panel.
    void import('./editorValidation').then(({ watchPipelineEditors }) =>
      watchPipelineEditors(app, api, trans)
    );

    if (restorer) {
      void restorer.restore(tracker, {
        command: PipelinesCommandIDs.open,
        args: widget => ({ name: widget.content.pipelineName }),
        name: widget => widget.content.pipelineName
      });
    }
  }
};
