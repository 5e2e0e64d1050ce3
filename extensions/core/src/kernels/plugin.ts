import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { defaultKernelName, preferKernel } from './defaultKernel';

/**
 * Gives notebooks created without a kernel name the server's default kernel.
 * A notebook that names its kernel in its metadata keeps it: JupyterLab puts
 * that name over this preference when it reads the file.
 */
export const defaultKernelPlugin: JupyterFrontEndPlugin<void> = {
  id: '@workbench/core:default-kernel',
  description:
    'New notebooks (File > New, the catalog) start the Workbench kernel, the server default, instead of asking with Python 3 preselected.',
  autoStart: true,
  optional: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null
  ): void => {
    const kernelspecs = app.serviceManager.kernelspecs;
    // Called as the notebook is created, before its session starts.
    notebooks?.widgetAdded.connect((_, panel) => {
      const session = panel.sessionContext;
      const preference = preferKernel(
        session.kernelPreference,
        defaultKernelName(kernelspecs.specs)
      );
      if (preference) {
        session.kernelPreference = preference;
      }
    });
  }
};
