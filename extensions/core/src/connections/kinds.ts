/**
 * The form of a connection without the DOM: the fields of each kind (as the
 * server's `connections.kinds` defines them), the values typed, and the
 * request bodies made from them.
 *
 * Secrets are write-only. The server answers `***set***` for a stored secret;
 * the form starts empty whatever is stored, and an edit sends a secret only
 * when one was typed (or null to remove it), so a stored secret is never
 * overwritten by accident.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import {
  IConnection,
  IConnectionCreate,
  IConnectionPatch,
  SECRET_MASK
} from './tokens';

/**
 * How a field is typed in.
 */
export type FieldType =
  'text' | 'number' | 'secret' | 'select' | 'checkbox' | 'list';

/**
 * One setting of a kind.
 */
export interface IFieldSpec {
  /**
   * Name of the setting in request bodies.
   */
  name: string;
  label: string;
  type: FieldType;
  required?: boolean;
  /**
   * Value of a new connection's field (the server's default).
   */
  initial?: string | boolean;
  options?: string[];
  placeholder?: string;
  help?: string;
  /**
   * Numbers: whole numbers only (the default), the smallest and largest
   * allowed (default 1 and 65535, a port), or, for a decimal number, the
   * value it must be greater than.
   */
  integer?: boolean;
  min?: number;
  max?: number;
  above?: number;
  /**
   * Shown (and checked) only while other fields have these values, e.g. an
   * OCR service's URL only for the http engine.
   */
  shownWhen?: { [field: string]: string };
}

/**
 * A kind of connection and its settings.
 */
export interface IKindSpec {
  kind: string;
  label: string;
  fields: IFieldSpec[];
}

/**
 * The kinds the server supports, in the order the dialog offers them, with
 * their labels in the user's language.
 */
export function kindSpecs(
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IKindSpec[] {
  return [
    {
      kind: 'postgres',
      label: trans.__('PostgreSQL'),
      fields: [
        {
          name: 'host',
          label: trans.__('Host'),
          type: 'text',
          required: true,
          placeholder: trans.__('db.example.com')
        },
        {
          name: 'port',
          label: trans.__('Port'),
          type: 'number',
          initial: '5432'
        },
        {
          name: 'database',
          label: trans.__('Database'),
          type: 'text',
          required: true
        },
        { name: 'user', label: trans.__('User'), type: 'text', required: true },
        { name: 'password', label: trans.__('Password'), type: 'secret' },
        {
          name: 'sslmode',
          label: trans.__('SSL mode'),
          type: 'select',
          options: [
            'disable',
            'allow',
            'prefer',
            'require',
            'verify-ca',
            'verify-full'
          ],
          initial: 'prefer'
        },
        {
          name: 'schema',
          label: trans.__('Default schema'),
          type: 'text',
          help: trans.__('search_path of queries; empty: the server default')
        }
      ]
    },
    {
      kind: 'odoo',
      label: trans.__('Odoo (external API)'),
      fields: [
        {
          name: 'url',
          label: trans.__('URL'),
          type: 'text',
          required: true,
          placeholder: trans.__('https://erp.example.com')
        },
        {
          name: 'database',
          label: trans.__('Database'),
          type: 'text',
          required: true
        },
        {
          name: 'login',
          label: trans.__('Login'),
          type: 'text',
          required: true
        },
        { name: 'password', label: trans.__('Password'), type: 'secret' },
        { name: 'api_key', label: trans.__('API key'), type: 'secret' },
        {
          name: 'protocol',
          label: trans.__('Protocol'),
          type: 'select',
          options: ['xmlrpc', 'jsonrpc'],
          initial: 'xmlrpc'
        },
        {
          name: 'models',
          label: trans.__('Models'),
          type: 'list',
          placeholder: trans.__('res.partner, account.move'),
          help: trans.__(
            'models the catalog describes when the login may not read ir.model; empty: common business models'
          )
        }
      ]
    },
    {
      kind: 'duckdb',
      label: trans.__('DuckDB'),
      fields: [
        {
          name: 'path',
          label: trans.__('Database file'),
          type: 'text',
          required: true,
          initial: ':memory:',
          help: trans.__('a .duckdb file, or :memory:')
        },
        {
          name: 'read_only',
          label: trans.__('Read only'),
          type: 'checkbox',
          initial: false
        }
      ]
    },
    {
      kind: 'lake',
      label: trans.__('Lake (folder or S3)'),
      fields: [
        {
          name: 'location',
          label: trans.__('Location'),
          type: 'text',
          required: true,
          placeholder: trans.__('/data/lake or s3://bucket/prefix')
        },
        {
          name: 'endpoint_url',
          label: trans.__('S3 endpoint URL'),
          type: 'text',
          placeholder: trans.__('http://minio:9000')
        },
        { name: 'region', label: trans.__('S3 region'), type: 'text' },
        {
          name: 'access_key_id',
          label: trans.__('Access key id'),
          type: 'text'
        },
        {
          name: 'secret_access_key',
          label: trans.__('Secret access key'),
          type: 'secret'
        }
      ]
    },
    {
      kind: 'sqlalchemy',
      label: trans.__('Other database (SQLAlchemy URL)'),
      fields: [
        {
          name: 'url',
          label: trans.__('SQLAlchemy URL'),
          type: 'text',
          required: true,
          placeholder: trans.__('mysql+pymysql://user@host/db'),
          help: trans.__('without the password: type it below')
        },
        { name: 'password', label: trans.__('Password'), type: 'secret' }
      ]
    },
    {
      kind: 'ocr',
      label: trans.__('OCR (receipts and bills)'),
      fields: [
        {
          name: 'engine',
          label: trans.__('Engine'),
          type: 'select',
          options: ['rapidocr', 'http'],
          initial: 'rapidocr',
          help: trans.__(
            'rapidocr: offline, on this machine, with the models its wheel ships; http: your own OCR service'
          )
        },
        {
          name: 'url',
          label: trans.__('Service URL'),
          type: 'text',
          required: true,
          placeholder: trans.__('https://ocr.example.com/v1/read'),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'token',
          label: trans.__('Token'),
          type: 'secret',
          help: trans.__('sent as Authorization: Bearer'),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'body',
          label: trans.__('Request body'),
          type: 'select',
          options: ['raw', 'json'],
          initial: 'raw',
          help: trans.__(
            'raw: the file as it is; json: base64 in the document field'
          ),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'document_field',
          label: trans.__('Document field'),
          type: 'text',
          initial: 'document',
          shownWhen: { engine: 'http', body: 'json' }
        },
        {
          name: 'lines_path',
          label: trans.__('Lines path'),
          type: 'text',
          initial: 'lines',
          help: trans.__(
            "dotted path of the reply's list of lines, e.g. result.lines"
          ),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'text_field',
          label: trans.__('Text field'),
          type: 'text',
          initial: 'text',
          help: trans.__("each line's text"),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'confidence_field',
          label: trans.__('Confidence field'),
          type: 'text',
          initial: 'confidence',
          help: trans.__("each line's score"),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'confidence_scale',
          label: trans.__('Confidence scale'),
          type: 'number',
          initial: '1',
          integer: false,
          above: 0,
          max: 1000,
          help: trans.__('1 for scores from 0 to 1, 100 for percentages'),
          shownWhen: { engine: 'http' }
        },
        {
          name: 'timeout_s',
          label: trans.__('Timeout (s)'),
          type: 'number',
          initial: '60',
          integer: false,
          above: 0,
          max: 600,
          shownWhen: { engine: 'http' }
        }
      ]
    },
    {
      kind: 'superset',
      label: trans.__('Apache Superset (publish datasets)'),
      fields: [
        {
          name: 'url',
          label: trans.__('URL'),
          type: 'text',
          required: true,
          placeholder: trans.__('https://superset.example.com')
        },
        {
          name: 'user',
          label: trans.__('User'),
          type: 'text',
          required: true,
          help: trans.__(
            'a Superset user who may create databases and datasets (e.g. Alpha)'
          )
        },
        { name: 'password', label: trans.__('Password'), type: 'secret' }
      ]
    },
    {
      kind: 'embedding',
      label: trans.__('Embeddings API (OpenAI-compatible)'),
      fields: [
        {
          name: 'url',
          label: trans.__('URL'),
          type: 'text',
          required: true,
          placeholder: trans.__('https://api.openai.com/v1'),
          help: trans.__(
            "the API's base (/embeddings is added) or its full /embeddings address"
          )
        },
        {
          name: 'model',
          label: trans.__('Model'),
          type: 'text',
          required: true,
          placeholder: trans.__('text-embedding-3-small')
        },
        {
          name: 'api_key',
          label: trans.__('API key'),
          type: 'secret',
          help: trans.__('sent as Authorization: Bearer')
        },
        {
          name: 'dimensions',
          label: trans.__('Dimensions'),
          type: 'number',
          max: 16384,
          help: trans.__(
            "for models that can shorten their vectors; empty: the model's"
          )
        },
        {
          name: 'batch_size',
          label: trans.__('Texts per request'),
          type: 'number',
          initial: '64',
          max: 2048
        },
        {
          name: 'timeout_s',
          label: trans.__('Timeout (s)'),
          type: 'number',
          initial: '60',
          integer: false,
          above: 0,
          max: 600
        }
      ]
    }
  ];
}

const SPECS = kindSpecs();

/**
 * The spec of a kind, or null for a kind this version does not know.
 */
export function kindSpec(kind: string): IKindSpec | null {
  return SPECS.find(spec => spec.kind === kind) ?? null;
}

/**
 * Whether a field is shown (and checked, and sent) for the values typed:
 * fields that depend on others (an OCR service's URL on the http engine)
 * are hidden otherwise.
 */
export function fieldShown(
  field: IFieldSpec,
  values: { [field: string]: string | boolean }
): boolean {
  return Object.entries(field.shownWhen ?? {}).every(
    ([name, wanted]) => values[name] === wanted
  );
}

/**
 * Connection names the server accepts (`kinds.NAME_PATTERN`): they become
 * `%sql` aliases.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * What is typed in the form.
 */
export interface IConnectionForm {
  name: string;
  kind: string;
  description: string;
  /**
   * Groups, comma-separated.
   */
  sharedGroups: string;
  /**
   * Field name -> value; lists comma-separated, secrets as typed ('' =
   * keep what is stored).
   */
  values: { [field: string]: string | boolean };
  /**
   * Secrets to remove from the server.
   */
  clear: { [field: string]: boolean };
}

/**
 * The form of a new connection of a kind, with the server's defaults.
 */
export function emptyForm(kind: string = 'postgres'): IConnectionForm {
  const values: { [field: string]: string | boolean } = {};
  for (const field of kindSpec(kind)?.fields ?? []) {
    values[field.name] =
      field.initial ?? (field.type === 'checkbox' ? false : '');
  }
  return {
    name: '',
    kind,
    description: '',
    sharedGroups: '',
    values,
    clear: {}
  };
}

/**
 * The value the server has for a field.
 */
function stored(connection: IConnection, field: IFieldSpec): unknown {
  return connection.settings[field.name];
}

/**
 * Whether the server holds a value for a secret field.
 */
export function hasStoredSecret(
  connection: IConnection,
  field: string
): boolean {
  return connection.settings[field] === SECRET_MASK;
}

/**
 * The form of an existing connection: its values, and every secret empty.
 */
export function formOf(connection: IConnection): IConnectionForm {
  const values: { [field: string]: string | boolean } = {};
  for (const field of kindSpec(connection.kind)?.fields ?? []) {
    const value = stored(connection, field);
    switch (field.type) {
      case 'secret':
        values[field.name] = ''; // never filled: the server does not send it
        break;
      case 'checkbox':
        values[field.name] = value === true;
        break;
      case 'list':
        values[field.name] = Array.isArray(value) ? value.join(', ') : '';
        break;
      default:
        values[field.name] =
          value === null || value === undefined ? '' : String(value);
    }
  }
  return {
    name: connection.name,
    kind: connection.kind,
    description: connection.description,
    sharedGroups: connection.shared_groups.join(', '),
    values,
    clear: {}
  };
}

/**
 * Split a comma- or line-separated list.
 */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map(item => item.trim())
    .filter(Boolean);
}

/**
 * What is wrong with the form, in one sentence naming the field, or null.
 */
export function formProblem(
  form: IConnectionForm,
  isNew: boolean,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string | null {
  const name = form.name.trim();
  if (isNew && !NAME_PATTERN.test(name)) {
    return name
      ? trans.__(
          'Name "%1": use lower-case letters, digits and _, starting with a letter (it becomes a %sql alias).',
          name
        )
      : trans.__(
          'Name: required (lower-case letters, digits and _, e.g. odoo_prod).'
        );
  }
  const spec = kindSpecs(trans).find(k => k.kind === form.kind);
  if (!spec) {
    return trans.__(
      'Kind "%1" is not supported by this version of the dialog.',
      form.kind
    );
  }
  for (const field of spec.fields) {
    if (!fieldShown(field, form.values)) {
      continue;
    }
    const value = form.values[field.name];
    if (field.required && typeof value === 'string' && !value.trim()) {
      return trans.__('%1: required.', field.label);
    }
    if (field.type === 'number' && typeof value === 'string' && value.trim()) {
      const problem = numberProblem(field, value.trim(), trans);
      if (problem) {
        return problem;
      }
    }
  }
  return null;
}

/**
 * What is wrong with a number typed into `field`, or null.
 */
function numberProblem(
  field: IFieldSpec,
  text: string,
  trans: TranslationBundle
): string | null {
  const n = Number(text);
  const max = field.max ?? 65535;
  if (field.integer === false) {
    const above = field.above ?? 0;
    if (!Number.isFinite(n) || n <= above || n > max) {
      return trans.__(
        '%1: a number greater than %2 and at most %3, not "%4".',
        field.label,
        String(above),
        String(max),
        text
      );
    }
    return null;
  }
  const min = field.min ?? 1;
  if (!Number.isInteger(n) || n < min || n > max) {
    return trans.__(
      '%1: a whole number from %2 to %3, not "%4".',
      field.label,
      String(min),
      String(max),
      text
    );
  }
  return null;
}

/**
 * The value a field's input stands for in a request, or undefined when it is
 * empty (then the server's default, or nothing, applies).
 */
function requestValue(
  field: IFieldSpec,
  value: string | boolean | undefined
): unknown {
  switch (field.type) {
    case 'checkbox':
      return value === true;
    case 'secret':
      return typeof value === 'string' && value !== '' ? value : undefined;
    case 'list':
      return splitList(typeof value === 'string' ? value : '');
    case 'number': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (!text) {
        return field.initial !== undefined ? Number(field.initial) : undefined;
      }
      return Number(text);
    }
    default: {
      const text = typeof value === 'string' ? value.trim() : '';
      return text ? text : undefined;
    }
  }
}

/**
 * Body of the request creating the connection of a (valid) form.
 */
export function createBody(form: IConnectionForm): IConnectionCreate {
  const settings: IConnectionCreate['settings'] = { kind: form.kind };
  for (const field of kindSpec(form.kind)?.fields ?? []) {
    if (!fieldShown(field, form.values)) {
      continue; // the server's default (an http setting of an offline engine)
    }
    const value = requestValue(field, form.values[field.name]);
    if (value !== undefined) {
      settings[field.name] = value;
    }
  }
  return {
    name: form.name.trim(),
    description: form.description.trim(),
    shared_groups: splitList(form.sharedGroups),
    settings
  };
}

/**
 * Body of the request saving the changes of a (valid) form of `connection`;
 * null when nothing changed.
 *
 * Only changed settings are sent. A secret is sent when something was typed
 * into it, null when it is to be removed, and else left out, which keeps
 * what the server holds.
 */
export function patchBody(
  connection: IConnection,
  form: IConnectionForm
): IConnectionPatch | null {
  const patch: IConnectionPatch = {};
  const settings: { [field: string]: unknown } = {};
  for (const field of kindSpec(connection.kind)?.fields ?? []) {
    const value = requestValue(field, form.values[field.name]);
    if (field.type === 'secret') {
      if (value !== undefined) {
        settings[field.name] = value;
      } else if (
        form.clear[field.name] &&
        hasStoredSecret(connection, field.name)
      ) {
        settings[field.name] = null;
      }
      continue;
    }
    const before = stored(connection, field) ?? null;
    const after = value ?? null;
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      settings[field.name] = after;
    }
  }
  if (Object.keys(settings).length > 0) {
    patch.settings = settings;
  }
  if (form.description.trim() !== connection.description) {
    patch.description = form.description.trim();
  }
  const groups = splitList(form.sharedGroups);
  if (JSON.stringify(groups) !== JSON.stringify(connection.shared_groups)) {
    patch.shared_groups = groups;
  }
  return Object.keys(patch).length > 0 ? patch : null;
}
