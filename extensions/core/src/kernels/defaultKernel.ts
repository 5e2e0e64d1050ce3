/**
 * New notebooks start the server's default kernel (the Workbench kernel):
 * JupyterLab asks `notebook:create-new` for no kernel in particular, and its
 * kernel dialog then preselects the first kernel by display name, "Python 3
 * (ipykernel)", whatever the server's default is.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { KernelSpec } from '@jupyterlab/services';

/**
 * The kernel the workbench installs and the server defaults to.
 */
export const WORKBENCH_KERNEL = 'workbench';

/**
 * The kernel a new document is to start: the server's default when it is one
 * of the installed kernels, else the Workbench kernel when installed, else
 * null (then JupyterLab asks).
 */
export function defaultKernelName(
  specs: KernelSpec.ISpecModels | null | undefined
): string | null {
  if (!specs) {
    return null;
  }
  const installed = specs.kernelspecs ?? {};
  if (specs.default && installed[specs.default]) {
    return specs.default;
  }
  return installed[WORKBENCH_KERNEL] ? WORKBENCH_KERNEL : null;
}

/**
 * The kernel preference of a document opened without a kernel in mind, with
 * `kernel` as its kernel; null when the document already names a kernel (or
 * a running one), or is not to start any (e.g. a read-only run record).
 */
export function preferKernel(
  preference: ISessionContext.IKernelPreference,
  kernel: string | null
): ISessionContext.IKernelPreference | null {
  if (
    kernel === null ||
    preference.name ||
    preference.id ||
    preference.shouldStart === false ||
    preference.canStart === false
  ) {
    return null;
  }
  return { ...preference, name: kernel };
}
