/**
 * The inputs of the properties panel: text that keeps what is typed while
 * the YAML catches up, and the conversions between what is typed and the
 * values written to the file.
 */
import * as React from 'react';
import { parse, stringify } from 'yaml';

import { FieldType } from '../schema';
import { isObject, Value } from '../yamlRender';

/**
 * A value as the user edits it in a text input.
 */
export function toText(type: FieldType, value: Value | undefined): string {
  if (value === undefined || value === null) {
    return '';
  }
  if (type === 'list') {
    return Array.isArray(value) ? value.map(String).join('\n') : String(value);
  }
  if (type === 'yaml') {
    return stringify(value, { lineWidth: 0 }).replace(/\n$/, '');
  }
  if (
    type === 'scalar' &&
    typeof value === 'string' &&
    scalarFromText(value) !== value
  ) {
    // Text that would read back as a number, a boolean or other text: quoted.
    return JSON.stringify(value);
  }
  if (isObject(value) || Array.isArray(value)) {
    return JSON.stringify(value);
  }
  return String(value);
}

/**
 * What typed text means for a field; `undefined` removes the key (an empty
 * optional field), an `Error` is text that cannot be read yet.
 */
export function fromText(
  type: FieldType,
  text: string,
  required: boolean
): Value | undefined | Error {
  const trimmed = text.trim();
  if (type === 'scalar') {
    return scalarFromText(text);
  }
  if (trimmed === '' && type !== 'longtext') {
    return required ? '' : undefined;
  }
  switch (type) {
    case 'integer':
    case 'number': {
      const number = Number(trimmed);
      const ok =
        Number.isFinite(number) &&
        (type === 'number' || Number.isInteger(number));
      return ok ? number : trimmed; // the server says what is wrong with it
    }
    case 'duration':
      return /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
    case 'list':
      return text
        .split('\n')
        .map(line => line.trim())
        .filter(Boolean);
    case 'longtext':
      return text === '' && !required ? undefined : text;
    case 'yaml':
      try {
        return parse(text, { logLevel: 'silent' }) as Value;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    default:
      return trimmed;
  }
}

/**
 * A map value (a step's papermill parameters) as typed: YAML scalars, so
 * `3` is a number and `{{ ds }}` text.
 */
export function scalarFromText(text: string): Value {
  const trimmed = text.trim();
  if (trimmed === '') {
    return '';
  }
  try {
    const value = parse(trimmed, { logLevel: 'silent' }) as unknown;
    if (
      value === null ||
      ['number', 'boolean'].includes(typeof value) ||
      (typeof value === 'string' && /^["']/.test(trimmed))
    ) {
      return value as Value;
    }
  } catch {
    // Not YAML on its own (e.g. `{{ ds }}`): the text itself.
  }
  return trimmed;
}

/**
 * Properties of a text input.
 */
export interface IDraftInputProps {
  id?: string;
  value: string;
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  label?: string;
  /**
   * Send the text on each keystroke, or (`onBlur`) when leaving the field.
   */
  commit?: 'change' | 'blur';
  invalid?: boolean;
  /**
   * What the file will hold for a text (spaces trimmed, ...): typing that
   * the file writes differently is not taken back.
   */
  normalize?: (text: string) => string;
  onText: (text: string) => void;
}

/**
 * An input that shows what the user types at once, and takes the value from
 * the file again whenever it changes from elsewhere (the text editor, undo).
 */
export function DraftInput(props: IDraftInputProps): JSX.Element {
  const [draft, setDraft] = React.useState(props.value);
  const sent = React.useRef(props.value);
  React.useEffect(() => {
    const normalize = props.normalize ?? ((text: string) => text);
    if (
      props.value !== sent.current &&
      props.value !== normalize(sent.current)
    ) {
      sent.current = props.value;
      setDraft(props.value);
    }
  }, [props.value]);
  const send = (text: string): void => {
    sent.current = text;
    props.onText(text);
  };
  const common = {
    id: props.id,
    className: `jp-mod-styled jp-WorkbenchBuilder-input${props.invalid ? ' jp-mod-invalid' : ''}`,
    value: draft,
    placeholder: props.placeholder,
    'aria-label': props.label,
    'aria-invalid': props.invalid || undefined,
    spellCheck: false,
    onChange: (
      event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>
    ) => {
      setDraft(event.currentTarget.value);
      if (props.commit !== 'blur') {
        send(event.currentTarget.value);
      }
    },
    onBlur: () => {
      if (props.commit === 'blur' && draft !== sent.current) {
        send(draft);
      }
    }
  };
  return props.multiline ? (
    <textarea rows={props.rows ?? 3} {...common} />
  ) : (
    <input type="text" {...common} />
  );
}
