import {
  createBody,
  emptyForm,
  fieldShown,
  formOf,
  formProblem,
  kindSpecs,
  patchBody
} from '../connections/kinds';
import { IConnection, SECRET_MASK } from '../connections/tokens';

function connection(
  settings: { [key: string]: unknown },
  kind: string = 'postgres'
): IConnection {
  return {
    name: 'erp',
    kind,
    description: 'ERP replica',
    owner: 'ana',
    shared_groups: [],
    builtin: false,
    settings: { kind, ...settings },
    created_at: '2026-01-01T00:00:00',
    updated_at: '2026-01-01T00:00:00',
    may_change: true
  };
}

const STORED = {
  host: 'db.internal',
  port: 5432,
  database: 'odoo',
  user: 'reader',
  password: SECRET_MASK,
  sslmode: 'require',
  schema: 'public'
};

describe('kindSpecs', () => {
  it('covers every kind the server has, each secret field typed as a secret', () => {
    const specs = kindSpecs();
    expect(specs.map(k => k.kind)).toEqual([
      'postgres',
      'odoo',
      'duckdb',
      'lake',
      'sqlalchemy',
      'ocr',
      'superset',
      'embedding'
    ]);
    const secrets: string[] = [];
    for (const k of specs) {
      for (const f of k.fields) {
        if (f.type === 'secret') {
          secrets.push(`${k.kind}.${f.name}`);
        }
      }
    }
    // `secret_fields` of connections/kinds.py
    expect(secrets).toEqual([
      'postgres.password',
      'odoo.password',
      'odoo.api_key',
      'lake.secret_access_key',
      'sqlalchemy.password',
      'ocr.token',
      'superset.password',
      'embedding.api_key'
    ]);
  });
});

describe('formOf', () => {
  it('never fills a secret, whatever the server sent', () => {
    const form = formOf(connection(STORED));
    expect(form.values.password).toBe('');
    expect(form.values.host).toBe('db.internal');
    expect(form.values.port).toBe('5432');
    expect(form.values.schema).toBe('public');
  });
});

describe('createBody', () => {
  it('sends typed values with their types and leaves out empty optional ones', () => {
    const form = emptyForm('postgres');
    form.name = ' erp ';
    form.values = {
      ...form.values,
      host: ' db.internal ',
      port: '6432',
      database: 'odoo',
      user: 'reader',
      password: ' s3cret '
    };
    form.sharedGroups = 'finance, ops';
    expect(createBody(form)).toEqual({
      name: 'erp',
      description: '',
      shared_groups: ['finance', 'ops'],
      settings: {
        kind: 'postgres',
        host: 'db.internal',
        port: 6432,
        database: 'odoo',
        user: 'reader',
        password: ' s3cret ', // as typed: spaces may be part of it
        sslmode: 'prefer'
      }
    });
  });

  it('sends lists and checkboxes as JSON', () => {
    const odoo = emptyForm('odoo');
    odoo.values.models = 'res.partner,\naccount.move, ';
    expect(createBody(odoo).settings.models).toEqual([
      'res.partner',
      'account.move'
    ]);
    const duck = emptyForm('duckdb');
    duck.values.read_only = true;
    expect(createBody(duck).settings).toEqual({
      kind: 'duckdb',
      path: ':memory:',
      read_only: true
    });
  });
});

describe('patchBody', () => {
  it('is null when nothing changed, so a stored password is not touched', () => {
    const stored = connection(STORED);
    expect(patchBody(stored, formOf(stored))).toBeNull();
  });

  it('sends only the changed fields, and no password unless one was typed', () => {
    const stored = connection(STORED);
    const form = formOf(stored);
    form.values.host = 'db2.internal';
    form.values.schema = '';
    expect(patchBody(stored, form)).toEqual({
      settings: { host: 'db2.internal', schema: null }
    });
    form.values.password = 'new one';
    expect(patchBody(stored, form)?.settings?.password).toBe('new one');
  });

  it('removes a stored secret only when asked', () => {
    const stored = connection(STORED);
    const form = formOf(stored);
    form.clear.password = true;
    expect(patchBody(stored, form)).toEqual({ settings: { password: null } });
    // Nothing stored: nothing to remove.
    const bare = connection({ ...STORED, password: null });
    const again = formOf(bare);
    again.clear.password = true;
    expect(patchBody(bare, again)).toBeNull();
  });

  it('sends description and groups when they changed', () => {
    const stored = connection(STORED);
    const form = formOf(stored);
    form.description = 'ERP replica (read only)';
    form.sharedGroups = 'finance';
    expect(patchBody(stored, form)).toEqual({
      description: 'ERP replica (read only)',
      shared_groups: ['finance']
    });
  });
});

describe('formProblem', () => {
  it('names the field that is wrong', () => {
    const form = emptyForm('postgres');
    expect(formProblem(form, true)).toMatch(/^Name: required/);
    form.name = 'Odoo-Prod';
    expect(formProblem(form, true)).toMatch(
      /^Name "Odoo-Prod": use lower-case/
    );
    form.name = 'odoo_prod';
    expect(formProblem(form, true)).toBe('Host: required.');
    form.values = {
      ...form.values,
      host: 'h',
      database: 'd',
      user: 'u',
      port: '99999'
    };
    expect(formProblem(form, true)).toBe(
      'Port: a whole number from 1 to 65535, not "99999".'
    );
    form.values.port = '5432';
    expect(formProblem(form, true)).toBeNull();
    // A password is never required: the server may hold one already.
    expect(formProblem(formOf(connection(STORED)), false)).toBeNull();
  });
});

describe('the ocr kind', () => {
  const shown = (form: ReturnType<typeof emptyForm>) =>
    kindSpecs()
      .find(k => k.kind === 'ocr')!
      .fields.filter(f => fieldShown(f, form.values))
      .map(f => f.name);

  it('offers the offline engine by default, with none of the service settings', () => {
    const form = emptyForm('ocr');
    form.name = 'receipts_ocr';
    expect(form.values.engine).toBe('rapidocr');
    expect(shown(form)).toEqual(['engine']);
    expect(formProblem(form, true)).toBeNull();
    // Hidden settings are left to the server's defaults.
    expect(createBody(form).settings).toEqual({
      kind: 'ocr',
      engine: 'rapidocr'
    });
  });

  it('asks an http engine for its URL and sends the mapping with its types', () => {
    const form = emptyForm('ocr');
    form.name = 'company_ocr';
    form.values = { ...form.values, engine: 'http' };
    expect(shown(form)).toEqual([
      'engine',
      'url',
      'token',
      'body',
      'lines_path',
      'text_field',
      'confidence_field',
      'confidence_scale',
      'timeout_s'
    ]);
    expect(formProblem(form, true)).toBe('Service URL: required.');
    form.values = {
      ...form.values,
      url: ' https://ocr.example.com/v1/read ',
      token: 'tok3n',
      body: 'json',
      document_field: 'image',
      lines_path: 'result.lines',
      confidence_scale: '0'
    };
    expect(shown(form)).toContain('document_field');
    expect(formProblem(form, true)).toBe(
      'Confidence scale: a number greater than 0 and at most 1000, not "0".'
    );
    form.values = { ...form.values, confidence_scale: '100', timeout_s: '2.5' };
    expect(formProblem(form, true)).toBeNull();
    expect(createBody(form).settings).toEqual({
      kind: 'ocr',
      engine: 'http',
      url: 'https://ocr.example.com/v1/read',
      token: 'tok3n',
      body: 'json',
      document_field: 'image',
      lines_path: 'result.lines',
      text_field: 'text',
      confidence_field: 'confidence',
      confidence_scale: 100,
      timeout_s: 2.5
    });
  });

  it('keeps a stored token unless one is typed, like every secret', () => {
    const stored = connection(
      {
        engine: 'http',
        url: 'https://ocr.example.com/v1/read',
        token: SECRET_MASK,
        body: 'raw',
        document_field: 'document',
        lines_path: 'lines',
        text_field: 'text',
        confidence_field: 'confidence',
        confidence_scale: 1,
        timeout_s: 60
      },
      'ocr'
    );
    const form = formOf(stored);
    expect(form.values.token).toBe('');
    expect(form.values.confidence_scale).toBe('1');
    expect(patchBody(stored, form)).toBeNull();
    form.values = { ...form.values, lines_path: 'data.lines' };
    expect(patchBody(stored, form)).toEqual({
      settings: { lines_path: 'data.lines' }
    });
  });
});

describe('the embedding kind', () => {
  it('needs the URL and model, keeps the key write-only and sends numbers as numbers', () => {
    const form = emptyForm('embedding');
    form.name = 'vectors';
    expect(formProblem(form, true)).toBe('URL: required.');
    form.values = {
      ...form.values,
      url: ' https://api.openai.com/v1 ',
      model: 'text-embedding-3-small',
      api_key: 'sk-s3cret',
      dimensions: '0'
    };
    expect(formProblem(form, true)).toBe(
      'Dimensions: a whole number from 1 to 16384, not "0".'
    );
    form.values = { ...form.values, dimensions: '' };
    expect(formProblem(form, true)).toBeNull();
    expect(createBody(form).settings).toEqual({
      kind: 'embedding',
      url: 'https://api.openai.com/v1',
      model: 'text-embedding-3-small',
      api_key: 'sk-s3cret',
      batch_size: 64,
      timeout_s: 60
    });
    const stored = connection(
      {
        url: 'https://api.openai.com/v1',
        model: 'text-embedding-3-small',
        api_key: SECRET_MASK,
        dimensions: null,
        batch_size: 64,
        timeout_s: 60
      },
      'embedding'
    );
    const edit = formOf(stored);
    expect(edit.values.api_key).toBe('');
    expect(patchBody(stored, edit)).toBeNull();
  });
});
