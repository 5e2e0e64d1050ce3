import {
  defaultKernelName,
  preferKernel,
  WORKBENCH_KERNEL
} from '../kernels/defaultKernel';

const spec = (name: string, display: string) => ({
  name,
  display_name: display,
  language: 'python',
  argv: [],
  resources: {},
  env: {},
  metadata: {}
});

// JupyterLab sorts kernels by display name: "Python 3 (ipykernel)" comes
// first and was preselected for every new notebook.
const specs = {
  default: 'workbench',
  kernelspecs: {
    python3: spec('python3', 'Python 3 (ipykernel)'),
    workbench: spec('workbench', 'Workbench (Python 3)')
  }
};

describe('defaultKernelName', () => {
  it("is the server's default kernel", () => {
    expect(defaultKernelName(specs)).toBe('workbench');
    expect(defaultKernelName({ ...specs, default: 'python3' })).toBe('python3');
  });

  it('is the Workbench kernel when the default is not installed', () => {
    expect(defaultKernelName({ ...specs, default: 'gone' })).toBe(
      WORKBENCH_KERNEL
    );
  });

  it('is null before the kernels are known or without any', () => {
    expect(defaultKernelName(null)).toBeNull();
    expect(
      defaultKernelName({
        default: 'gone',
        kernelspecs: { python3: spec('python3', 'Python 3') }
      })
    ).toBeNull();
  });
});

describe('preferKernel', () => {
  it('names the kernel of a notebook created without one', () => {
    expect(
      preferKernel({ shouldStart: true, language: 'python' }, 'workbench')
    ).toEqual({ shouldStart: true, language: 'python', name: 'workbench' });
  });

  it('leaves a notebook that names its kernel or a running one', () => {
    expect(preferKernel({ name: 'python3' }, 'workbench')).toBeNull();
    expect(preferKernel({ id: 'k1' }, 'workbench')).toBeNull();
  });

  it('starts nothing for a document that is not to start a kernel', () => {
    expect(preferKernel({ shouldStart: false }, 'workbench')).toBeNull();
    expect(preferKernel({ canStart: false }, 'workbench')).toBeNull();
    expect(preferKernel({}, null)).toBeNull();
  });
});
