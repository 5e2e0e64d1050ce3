/**
 * Connections the user may use but not change: shared with them by someone
 * else, or built in (unless they are an admin). The dialog offers no Save or
 * Remove for them and shows their settings as text instead of a form; the
 * server would refuse the change anyway (403), so this only spares the user
 * an edit they cannot keep.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { IKindSpec } from './kinds';
import { IConnection, SECRET_MASK } from './tokens';

/**
 * Whether the dialog offers to edit, share and remove a connection. Absent
 * from an older server's answer: offered, and the server decides.
 */
export function mayChange(connection: IConnection): boolean {
  return connection.may_change !== false;
}

/**
 * Why a connection cannot be changed here, in one line; null when it can.
 */
export function readOnlyNote(
  connection: IConnection,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string | null {
  if (mayChange(connection)) {
    return null;
  }
  if (connection.builtin) {
    return trans.__('Built-in; only an admin can change it.');
  }
  return trans.__(
    'Shared with you by %1; only %1 or an admin can change it.',
    connection.owner
  );
}

/**
 * One setting as read-only text.
 */
export interface ISettingRow {
  /**
   * Name of the setting in the API (`data-setting` in the dialog).
   */
  name: string;
  label: string;
  value: string;
}

/**
 * The settings of a connection as label and text, in the order of its kind's
 * form; a secret says only whether one is stored. For a kind this version
 * does not know (`spec` null), the settings the server sent, by name.
 */
export function settingRows(
  connection: IConnection,
  spec: IKindSpec | null,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): ISettingRow[] {
  const notSet = trans.__('not set');
  const text = (value: unknown): string => {
    if (value === null || value === undefined || value === '') {
      return notSet;
    }
    if (value === SECRET_MASK) {
      return trans.__('stored, never shown');
    }
    if (typeof value === 'boolean') {
      return value ? trans.__('yes') : trans.__('no');
    }
    if (Array.isArray(value)) {
      return value.length > 0 ? value.map(String).join(', ') : notSet;
    }
    if (typeof value === 'object') {
      return JSON.stringify(value);
    }
    return String(value);
  };
  if (spec === null) {
    return Object.entries(connection.settings)
      .filter(([name]) => name !== 'kind')
      .map(([name, value]) => ({ name, label: name, value: text(value) }));
  }
  return spec.fields.map(field => ({
    name: field.name,
    label: field.label,
    value: text(connection.settings[field.name])
  }));
}
