/**
 * The connections dialog's body in a DOM, over a fake API that records calls.
 */
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import {
  ConnectionsManager,
  testSummary
} from '../connections/components/ConnectionsDialog';
import {
  IConnection,
  IConnectionPatch,
  IConnectionsAPI,
  ITestResult,
  SECRET_MASK
} from '../connections/tokens';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

// The dialog shell and JupyterLab's widgets load ES modules this jest setup
// does not transform; the body under test needs only a <select>.
jest.mock('@jupyterlab/apputils', () => ({ Dialog: class {} }));
jest.mock('@jupyterlab/ui-components', () => {
  const react = jest.requireActual('react');
  return {
    ReactWidget: class {},
    HTMLSelect: (props: any) => {
      const { options = [], ...rest } = props;
      return react.createElement(
        'select',
        rest,
        options.map((o: any) => {
          const option = typeof o === 'object' ? o : { value: o, label: o };
          return react.createElement(
            'option',
            { key: option.value, value: option.value },
            option.label
          );
        })
      );
    }
  };
});

interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
declare const require: (id: string) => unknown;
const { createRoot } = require('react-dom/client') as {
  createRoot: (container: Element) => IRoot;
};

const trans = nullTranslator.load('workbench');

const ERP: IConnection = {
  name: 'erp',
  kind: 'postgres',
  description: '',
  owner: 'ana',
  shared_groups: [],
  builtin: false,
  settings: {
    kind: 'postgres',
    host: 'db.internal',
    port: 5432,
    database: 'odoo',
    user: 'reader',
    password: SECRET_MASK,
    sslmode: 'prefer',
    schema: null
  },
  created_at: '2026-01-01T00:00:00',
  updated_at: '2026-01-01T00:00:00',
  may_change: true
};

// What bob sees of a connection alice shared with his group.
const SHARED: IConnection = {
  ...ERP,
  name: 'alice_erp',
  owner: 'alice',
  shared_groups: ['finance'],
  description: 'Odoo replica',
  may_change: false
};

class FakeAPI implements IConnectionsAPI {
  constructor(readonly connections: IConnection[] = [ERP]) {}
  patches: IConnectionPatch[] = [];
  removed: string[] = [];
  tested: string[] = [];
  failing = false;
  async list(): Promise<IConnection[]> {
    return this.connections;
  }
  async create(): Promise<IConnection> {
    throw new Error('not in this test');
  }
  async update(name: string, patch: IConnectionPatch): Promise<IConnection> {
    this.patches.push(patch);
    return { ...ERP, description: patch.description ?? ERP.description };
  }
  async remove(name: string): Promise<void> {
    this.removed.push(name);
  }
  async test(name: string): Promise<ITestResult> {
    this.tested.push(name);
    if (this.failing) {
      return {
        ok: false,
        connection: name,
        server_version: null,
        latency_ms: 3,
        reason: 'authentication_failed',
        message: 'password authentication failed for user "odoo"'
      } as ITestResult;
    }
    return {
      ok: true,
      connection: name,
      server_version: 'PostgreSQL 16',
      latency_ms: 3,
      reason: null,
      message: `connection '${name}': PostgreSQL 16`
    };
  }
}

/**
 * Set an input's value the way React notices (its value setter is patched).
 */
function type(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(
    HTMLInputElement.prototype,
    'value'
  )!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

describe('ConnectionsManager', () => {
  let host: HTMLDivElement;
  let root: IRoot;
  let api: FakeAPI;

  const mount = async (connections: IConnection[]) => {
    React.act(() => root.unmount());
    root = createRoot(host);
    api = new FakeAPI(connections);
    await React.act(async () => {
      root.render(
        React.createElement(ConnectionsManager, {
          api,
          trans,
          onError: () => undefined,
          onChanged: () => undefined
        })
      );
    });
  };

  beforeEach(async () => {
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
    api = new FakeAPI();
    await React.act(async () => {
      root.render(
        React.createElement(ConnectionsManager, {
          api,
          trans,
          onError: () => undefined,
          onChanged: () => undefined
        })
      );
    });
  });

  afterEach(() => {
    React.act(() => root.unmount());
    host.remove();
  });

  const field = (name: string) =>
    host.querySelector<HTMLInputElement>(`[data-field="${name}"]`)!;

  const submit = async () => {
    const form = host.querySelector('form')!;
    await React.act(async () => {
      form.dispatchEvent(
        new Event('submit', { bubbles: true, cancelable: true })
      );
    });
  };

  it('shows a stored password as an empty field with a hint, never its mask', () => {
    expect(field('host').value).toBe('db.internal');
    expect(field('password').value).toBe('');
    expect(field('password').type).toBe('password');
    expect(host.textContent).not.toContain(SECRET_MASK);
    expect(host.textContent).toContain(
      'Stored encrypted and never shown. Leave empty to keep it'
    );
  });

  it('saves an edit without the password unless one is typed', async () => {
    React.act(() => type(field('description'), 'Odoo replica'));
    await submit();
    expect(api.patches).toEqual([{ description: 'Odoo replica' }]);
    expect(host.textContent).toContain('Saved erp.');

    React.act(() => type(field('password'), 'n3w'));
    await submit();
    expect(api.patches[1]).toEqual({ settings: { password: 'n3w' } });
  });

  const buttons = () =>
    Array.from(host.querySelectorAll('form button')).map(b => b.textContent);

  it('offers Save and Remove for a connection the user may change', () => {
    expect(buttons()).toEqual(['Save', 'Test', 'Remove…']);
    expect(host.querySelector('[role="note"]')).toBeNull();
  });

  it("shows someone else's shared connection read-only, with Test only", async () => {
    await mount([SHARED]);
    expect(buttons()).toEqual(['Test']);
    expect(host.querySelector('[role="note"]')!.textContent).toBe(
      'Shared with you by alice; only alice or an admin can change it.'
    );
    // Its settings as text: no field to type in, the password only as stored.
    expect(host.querySelectorAll('form input, form select')).toHaveLength(0);
    const setting = (name: string) =>
      host.querySelector(`[data-setting="${name}"] dd`)!.textContent;
    expect(setting('host')).toBe('db.internal');
    expect(setting('password')).toBe('stored, never shown');
    expect(setting('schema')).toBe('not set');
    expect(setting('shared_groups')).toBe('finance');
    expect(host.textContent).not.toContain(SECRET_MASK);

    // Enter cannot save it either; Test still connects.
    await submit();
    expect(api.patches).toEqual([]);
    const test = Array.from(host.querySelectorAll('button')).find(
      b => b.textContent === 'Test'
    )!;
    await React.act(async () => test.click());
    expect(api.tested).toEqual(['alice_erp']);
  });

  it("shows a test's outcome once, in the dialog, the reason first", async () => {
    await mount([ERP]);
    api.failing = true;
    const test = Array.from(host.querySelectorAll('button')).find(
      b => b.textContent === 'Test'
    )!;
    await React.act(async () => test.click());
    const status = host.querySelector('[role="status"]')!;
    expect(status.getAttribute('data-ok')).toBe('false');
    expect(status.textContent).toBe(
      '✗ Test of erp failed: authentication failed. password authentication failed for user "odoo"'
    );
  });

  it('says a built-in connection is changed by admins only', async () => {
    await mount([{ ...SHARED, name: 'demo_odoo', builtin: true }]);
    expect(host.querySelector('[role="note"]')!.textContent).toBe(
      'Built-in; only an admin can change it.'
    );
    expect(buttons()).toEqual(['Test']);
  });
});

describe('testSummary', () => {
  it('puts the reason first, then the server message', () => {
    const failed: ITestResult = {
      ok: false,
      connection: 'erp',
      server_version: null,
      latency_ms: null,
      reason: 'authentication_failed',
      message:
        'connection \'erp\': connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  password authentication failed for user "reader"'
    };
    expect(testSummary(failed, trans)).toMatch(
      /^Test of erp failed: authentication failed\. connection 'erp': .*password authentication failed/
    );
    expect(
      testSummary({ ...failed, reason: 'error', message: 'boom' }, trans)
    ).toBe('Test of erp failed: boom');
  });
});
