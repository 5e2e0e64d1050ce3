/**
 * What the connections dialog offers for a connection, from its rights.
 */
import { kindSpec } from '../connections/kinds';
import { mayChange, readOnlyNote, settingRows } from '../connections/readOnly';
import { IConnection, SECRET_MASK } from '../connections/tokens';

const LAKE: IConnection = {
  name: 'lake_s3',
  kind: 'lake',
  description: '',
  owner: 'alice',
  shared_groups: ['finance'],
  builtin: false,
  settings: {},
  created_at: '2026-01-01T00:00:00',
  updated_at: '2026-01-01T00:00:00',
  may_change: false
};

describe('mayChange', () => {
  it('follows the server, and offers the change when an older server does not say', () => {
    expect(mayChange({ ...LAKE, may_change: true })).toBe(true);
    expect(mayChange(LAKE)).toBe(false);
    const older = { ...LAKE } as Partial<IConnection>;
    delete older.may_change;
    expect(mayChange(older as IConnection)).toBe(true);
  });
});

describe('readOnlyNote', () => {
  it('names who may change a shared connection', () => {
    expect(readOnlyNote(LAKE)).toBe(
      'Shared with you by alice; only alice or an admin can change it.'
    );
  });

  it('says a built-in connection is for admins to change', () => {
    expect(readOnlyNote({ ...LAKE, builtin: true, owner: 'root' })).toBe(
      'Built-in; only an admin can change it.'
    );
  });

  it('is empty for a connection the user may change', () => {
    expect(readOnlyNote({ ...LAKE, may_change: true })).toBeNull();
  });
});

describe('settingRows', () => {
  it("lists the kind's settings in form order, secrets only as stored or not", () => {
    const odoo: IConnection = {
      ...LAKE,
      kind: 'odoo',
      settings: {
        kind: 'odoo',
        url: 'https://erp.example.com',
        database: 'prod',
        login: 'reader',
        password: SECRET_MASK,
        api_key: null,
        protocol: 'jsonrpc'
      }
    };
    const rows = settingRows(odoo, kindSpec('odoo'));
    const byName: { [name: string]: string } = {};
    for (const row of rows) {
      byName[row.name] = row.value;
    }
    expect(rows.slice(0, 3).map(r => r.label)).toEqual([
      'URL',
      'Database',
      'Login'
    ]);
    expect(byName.password).toBe('stored, never shown');
    expect(byName.api_key).toBe('not set');
    expect(byName.protocol).toBe('jsonrpc');
    expect(JSON.stringify(rows)).not.toContain(SECRET_MASK);
  });

  it('shows lists, flags and the settings of an unknown kind by name', () => {
    const unknown: IConnection = {
      ...LAKE,
      kind: 'snowflake',
      settings: {
        kind: 'snowflake',
        account: 'xy123',
        warehouses: ['a', 'b'],
        tls: true,
        token: SECRET_MASK
      }
    };
    expect(settingRows(unknown, null)).toEqual([
      { name: 'account', label: 'account', value: 'xy123' },
      { name: 'warehouses', label: 'warehouses', value: 'a, b' },
      { name: 'tls', label: 'tls', value: 'yes' },
      { name: 'token', label: 'token', value: 'stored, never shown' }
    ]);
  });
});
