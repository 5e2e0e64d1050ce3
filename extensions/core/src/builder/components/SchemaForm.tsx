import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IField, PipelineSchema } from '../schema';
import { Path } from '../yamlEdit';
import { isObject, Value } from '../yamlRender';
import { DraftInput, fromText, scalarFromText, toText } from './fields';

/**
 * What every field of a form needs.
 */
export interface IFormContext {
  schema: PipelineSchema;
  trans: TranslationBundle;
  /**
   * Validation messages by path (`steps.2.timeout`).
   */
  problems: ReadonlyMap<string, string[]>;
  /**
   * Write a value at a path of the spec (`undefined` removes it).
   */
  onChange: (path: Path, value: Value | undefined) => void;
}

/**
 * The messages about a path and everything under it.
 */
export function problemsAt(
  problems: ReadonlyMap<string, string[]>,
  path: Path
): string[] {
  const key = path.join('.');
  const found: string[] = [];
  for (const [at, messages] of problems) {
    if (at === key || at.startsWith(`${key}.`)) {
      found.push(...messages);
    }
  }
  return found;
}

/**
 * The fields of a schema object at `path`, one per property.
 */
export function SchemaFields(props: {
  context: IFormContext;
  fields: IField[];
  value: Value | undefined;
  path: Path;
}): JSX.Element {
  const object = isObject(props.value) ? props.value : {};
  return (
    <>
      {props.fields.map(field => (
        <SchemaField
          key={field.key}
          context={props.context}
          field={asDeclared(field, object)}
          value={object[field.key]}
          path={[...props.path, field.key]}
        />
      ))}
    </>
  );
}

/**
 * A field as the object it belongs to declares it: a decimal parameter's
 * default is text, so `10.10` typed keeps its digits (as a YAML number it
 * would be the float 10.1, which the server refuses for a decimal).
 */
export function asDeclared(
  field: IField,
  object: { [key: string]: Value }
): IField {
  return field.key === 'default' &&
    field.type === 'scalar' &&
    object.type === 'decimal'
    ? { ...field, type: 'text' }
    : field;
}

/**
 * One field: its label, an input made for its type, its description and the
 * server's messages about it.
 */
export function SchemaField(props: {
  context: IFormContext;
  field: IField;
  value: Value | undefined;
  path: Path;
}): JSX.Element {
  const { context, field, value, path } = props;
  const { trans } = context;
  const id = `jp-WorkbenchBuilder-field-${path.join('-')}`;
  const messages = problemsAt(context.problems, path);
  const invalid = messages.length > 0;
  const change = (next: Value | undefined): void =>
    context.onChange(path, next);
  const fallback =
    field.default !== undefined &&
    field.default !== null &&
    field.default !== ''
      ? trans.__('default %1', toText('text', field.default as Value))
      : undefined;

  let input: JSX.Element;
  switch (field.type) {
    case 'group': {
      const nested = context.schema.fields(field.schema);
      return (
        <details
          className="jp-WorkbenchBuilder-group"
          data-field={path.join('.')}
          open={value !== undefined || invalid}
        >
          <summary className={invalid ? 'jp-mod-invalid' : ''}>
            {field.title}
            {value === undefined ? ` (${trans.__('not set')})` : ''}
          </summary>
          {field.description && (
            <div className="jp-WorkbenchBuilder-help">{field.description}</div>
          )}
          <SchemaFields
            context={context}
            fields={nested}
            value={value}
            path={path}
          />
          {value !== undefined && !field.required && (
            <button
              className="jp-mod-styled jp-WorkbenchBuilder-remove"
              onClick={() => change(undefined)}
            >
              {trans.__('Remove %1', field.title)}
            </button>
          )}
        </details>
      );
    }
    case 'map':
    case 'records':
      return (
        <MapField context={context} field={field} value={value} path={path} />
      );
    case 'boolean':
      input = (
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          onChange={event =>
            change(
              event.currentTarget.checked
                ? true
                : field.default === false
                  ? undefined
                  : false
            )
          }
        />
      );
      break;
    case 'enum':
      input = (
        <select
          id={id}
          className="jp-mod-styled jp-WorkbenchBuilder-input"
          value={value === undefined || value === null ? '' : String(value)}
          onChange={event => change(event.currentTarget.value || undefined)}
        >
          <option value="">{fallback ?? trans.__('(not set)')}</option>
          {field.choices.map(choice => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      );
      break;
    default: {
      const type = field.type;
      input = (
        <DraftInput
          id={id}
          value={toText(type, value)}
          multiline={['longtext', 'list', 'yaml'].includes(type)}
          rows={type === 'yaml' ? 4 : 3}
          placeholder={type === 'list' ? trans.__('one per line') : fallback}
          commit={type === 'yaml' ? 'blur' : 'change'}
          invalid={invalid}
          normalize={text => {
            const read = fromText(type, text, field.required);
            return read instanceof Error ? text : toText(type, read);
          }}
          onText={text => {
            const read = fromText(type, text, field.required);
            if (!(read instanceof Error)) {
              change(read);
            }
          }}
        />
      );
    }
  }
  return (
    <div
      className={`jp-WorkbenchBuilder-field${invalid ? ' jp-mod-invalid' : ''}`}
      data-field={path.join('.')}
    >
      <label htmlFor={id} className="jp-WorkbenchBuilder-label">
        {field.title}
        {field.required && (
          <span className="jp-WorkbenchBuilder-required"> *</span>
        )}
      </label>
      {input}
      {field.description && (
        <div className="jp-WorkbenchBuilder-help">{field.description}</div>
      )}
      {messages.map((message, index) => (
        <div key={index} className="jp-WorkbenchBuilder-problem" role="alert">
          {message}
        </div>
      ))}
    </div>
  );
}

/**
 * A mapping of names to values (a step's papermill parameters) or to records
 * (the pipeline's typed parameters): a row per entry, a button to add one.
 */
function MapField(props: {
  context: IFormContext;
  field: IField;
  value: Value | undefined;
  path: Path;
}): JSX.Element {
  const { context, field, path } = props;
  const { trans } = context;
  const entries = Object.entries(isObject(props.value) ? props.value : {});
  const records = field.type === 'records';
  const valueSchema = context.schema.valueSchema(field.schema);
  const messages = problemsAt(context.problems, path);
  const write = (next: [string, Value][]): void =>
    context.onChange(
      path,
      next.length
        ? next.reduce<{ [key: string]: Value }>(
            (map, [k, v]) => ({ ...map, [k]: v }),
            {}
          )
        : undefined
    );
  const add = (): void => {
    const taken = new Set(entries.map(([k]) => k));
    let n = entries.length + 1;
    while (taken.has(`param_${n}`)) {
      n++;
    }
    write([...entries, [`param_${n}`, records ? { type: 'string' } : '']]);
  };
  return (
    <div
      className={`jp-WorkbenchBuilder-field jp-WorkbenchBuilder-map${messages.length ? ' jp-mod-invalid' : ''}`}
      data-field={path.join('.')}
    >
      <div className="jp-WorkbenchBuilder-label">{field.title}</div>
      {field.description && (
        <div className="jp-WorkbenchBuilder-help">{field.description}</div>
      )}
      {entries.map(([name, value], index) => (
        <div
          key={index}
          className="jp-WorkbenchBuilder-entry"
          data-entry={name}
        >
          <div className="jp-WorkbenchBuilder-entryRow">
            <DraftInput
              value={name}
              label={trans.__('Name of entry %1', index + 1)}
              commit="blur"
              onText={text => {
                const renamed = text.trim();
                if (renamed && renamed !== name) {
                  write(entries.map(([k, v]) => [k === name ? renamed : k, v]));
                }
              }}
            />
            {!records && (
              <DraftInput
                value={toText('scalar', value)}
                label={trans.__('Value of %1', name)}
                normalize={text => toText('scalar', scalarFromText(text))}
                onText={text =>
                  write(
                    entries.map(([k, v]) => [
                      k,
                      k === name ? scalarFromText(text) : v
                    ])
                  )
                }
              />
            )}
            <button
              className="jp-mod-styled jp-WorkbenchBuilder-remove"
              title={trans.__('Remove %1', name)}
              aria-label={trans.__('Remove %1', name)}
              onClick={() => write(entries.filter(([k]) => k !== name))}
            >
              ×
            </button>
          </div>
          {records && (
            <div className="jp-WorkbenchBuilder-record">
              <SchemaFields
                context={context}
                fields={context.schema.fields(valueSchema)}
                value={value}
                path={[...path, name]}
              />
            </div>
          )}
        </div>
      ))}
      <button className="jp-mod-styled jp-WorkbenchBuilder-add" onClick={add}>
        {trans.__('Add parameter')}
      </button>
      {messages.map((message, index) => (
        <div key={index} className="jp-WorkbenchBuilder-problem" role="alert">
          {message}
        </div>
      ))}
    </div>
  );
}
