/**
 * The inputs of the connections form.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IConnectionForm, IFieldSpec } from '../kinds';

/**
 * A labelled text input with an optional help line.
 */
export function TextField(props: {
  id: string;
  field: string;
  label: string;
  value: string;
  required?: boolean;
  help?: string;
  placeholder?: string;
  onChange: (value: string) => void;
}): JSX.Element {
  const helpId = props.help ? `${props.id}-help` : undefined;
  return (
    <div className="jp-WorkbenchConnections-field">
      <label htmlFor={props.id}>
        {props.label}
        {props.required && (
          <span className="jp-WorkbenchConnections-required"> *</span>
        )}
      </label>
      <input
        id={props.id}
        className="jp-mod-styled"
        data-field={props.field}
        value={props.value}
        placeholder={props.placeholder}
        aria-required={props.required}
        aria-describedby={helpId}
        spellCheck={false}
        onChange={event => props.onChange(event.currentTarget.value)}
      />
      {props.help && (
        <div id={helpId} className="jp-WorkbenchConnections-help">
          {props.help}
        </div>
      )}
    </div>
  );
}

/**
 * The input of one setting of a connection kind: text, checkbox, select or
 * write-only secret.
 */
export function SettingField(props: {
  id: string;
  spec: IFieldSpec;
  form: IConnectionForm;
  stored: boolean;
  isNew: boolean;
  trans: TranslationBundle;
  onChange: (value: string | boolean) => void;
  onClear: (clear: boolean) => void;
}): JSX.Element {
  const { id, spec, form, trans } = props;
  const value = form.values[spec.name];
  const label = spec.label;
  switch (spec.type) {
    case 'checkbox':
      return (
        <div className="jp-WorkbenchConnections-field jp-mod-checkbox">
          <label>
            <input
              type="checkbox"
              data-field={spec.name}
              checked={value === true}
              onChange={event => props.onChange(event.currentTarget.checked)}
            />{' '}
            {label}
          </label>
        </div>
      );
    case 'select':
      return (
        <div className="jp-WorkbenchConnections-field">
          <label htmlFor={id}>{label}</label>
          <HTMLSelect
            id={id}
            data-field={spec.name}
            value={typeof value === 'string' ? value : ''}
            options={spec.options ?? []}
            onChange={event => props.onChange(event.currentTarget.value)}
          />
        </div>
      );
    case 'secret': {
      const clearing = form.clear[spec.name] === true;
      const hint = props.isNew
        ? trans.__('Kept encrypted on the server and never shown again.')
        : props.stored
          ? trans.__(
              'Stored encrypted and never shown. Leave empty to keep it; type a new one to replace it.'
            )
          : trans.__('Not set. Type one to store it (encrypted).');
      return (
        <div className="jp-WorkbenchConnections-field jp-mod-secret">
          <label htmlFor={id}>{label}</label>
          <input
            id={id}
            type="password"
            className="jp-mod-styled"
            data-field={spec.name}
            value={typeof value === 'string' ? value : ''}
            // Not the browser's saved password for this site: a database's.
            autoComplete="new-password"
            placeholder={
              props.stored && !clearing ? trans.__('unchanged') : undefined
            }
            disabled={clearing}
            aria-describedby={`${id}-help`}
            onChange={event => props.onChange(event.currentTarget.value)}
          />
          <div id={`${id}-help`} className="jp-WorkbenchConnections-help">
            {hint}
          </div>
          {props.stored && (
            <label className="jp-WorkbenchConnections-help">
              <input
                type="checkbox"
                data-clear={spec.name}
                checked={clearing}
                onChange={event => {
                  props.onClear(event.currentTarget.checked);
                  if (event.currentTarget.checked) {
                    props.onChange('');
                  }
                }}
              />{' '}
              {trans.__('Remove the stored %1', label.toLowerCase())}
            </label>
          )}
        </div>
      );
    }
    default: {
      return (
        <TextField
          id={id}
          field={spec.name}
          label={label}
          required={spec.required}
          value={typeof value === 'string' ? value : ''}
          help={spec.help}
          placeholder={spec.placeholder}
          onChange={props.onChange}
        />
      );
    }
  }
}
