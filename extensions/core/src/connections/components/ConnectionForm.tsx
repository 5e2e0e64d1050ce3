/**
 * The right column of the connections dialog: the form of the connection
 * selected (read-only when the user may not change it) or of a new one, its
 * actions and the outcome of the last one.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  emptyForm,
  fieldShown,
  hasStoredSecret,
  IConnectionForm,
  IKindSpec
} from '../kinds';
import { testSummary } from '../testResult';
import { IConnection, ITestResult } from '../tokens';
import { SettingField, TextField } from './fields';
import { ReadOnlyConnection } from './ReadOnlyConnection';

/**
 * What the dialog is busy with, if anything.
 */
export type Busy = 'loading' | 'saving' | 'testing' | 'removing' | null;

export interface IConnectionFormProps {
  trans: TranslationBundle;
  idPrefix: string;
  /**
   * The connection shown, or null for a new one.
   */
  current: IConnection | null;
  readOnly: boolean;
  form: IConnectionForm;
  specs: IKindSpec[];
  busy: Busy;
  problem: string | null;
  note: string;
  result: ITestResult | undefined;
  unsaved: boolean;
  confirming: boolean;
  kindLabel: (kind: string) => string;
  setForm: (update: (form: IConnectionForm) => IConnectionForm) => void;
  onKindChange: () => void;
  onSave: (event: React.FormEvent) => void;
  onTest: () => void;
  onAskRemove: () => void;
  onRemove: () => void;
  onKeep: () => void;
}

export function ConnectionForm(props: IConnectionFormProps): JSX.Element {
  const { trans, current, readOnly, form, idPrefix, setForm } = props;
  const isNew = current === null;
  const spec = props.specs.find(k => k.kind === form.kind) ?? null;
  return (
    <form
      className="jp-WorkbenchConnections-form"
      aria-label={
        isNew
          ? trans.__('New connection')
          : trans.__('Connection %1', current.name)
      }
      noValidate
      onSubmit={props.onSave}
    >
      <h3 className="jp-WorkbenchConnections-heading">
        {isNew ? trans.__('New connection') : current.name}
        {!isNew && (
          <span className="jp-WorkbenchConnections-muted">
            {' '}
            {props.kindLabel(current.kind)} ·{' '}
            {current.builtin
              ? trans.__('built in')
              : trans.__('owner %1', current.owner)}
          </span>
        )}
      </h3>
      {isNew && (
        <div className="jp-WorkbenchConnections-grid">
          <TextField
            id={`${idPrefix}-name`}
            field="name"
            label={trans.__('Name')}
            required
            value={form.name}
            help={trans.__(
              'lower-case letters, digits and _; it becomes the %sql alias'
            )}
            placeholder={trans.__('e.g. odoo_prod')}
            onChange={value => setForm(f => ({ ...f, name: value }))}
          />
          <div className="jp-WorkbenchConnections-field">
            <label htmlFor={`${idPrefix}-kind`}>{trans.__('Kind')}</label>
            <HTMLSelect
              id={`${idPrefix}-kind`}
              data-field="kind"
              value={form.kind}
              options={props.specs.map(k => ({
                value: k.kind,
                label: k.label
              }))}
              onChange={event => {
                const kind = event.currentTarget.value;
                setForm(f => ({
                  ...emptyForm(kind),
                  name: f.name,
                  description: f.description,
                  sharedGroups: f.sharedGroups
                }));
                props.onKindChange();
              }}
            />
          </div>
        </div>
      )}
      {readOnly && current ? (
        <ReadOnlyConnection connection={current} spec={spec} trans={trans} />
      ) : spec === null ? (
        <p className="jp-WorkbenchConnections-muted">
          {trans.__(
            'Connections of kind %1 cannot be edited here; use the workbench CLI.',
            form.kind
          )}
        </p>
      ) : (
        <div className="jp-WorkbenchConnections-grid">
          {spec.fields
            .filter(f => fieldShown(f, form.values))
            .map(field => (
              <SettingField
                key={`${form.kind}:${field.name}`}
                id={`${idPrefix}-${field.name}`}
                spec={field}
                form={form}
                stored={
                  current !== null && hasStoredSecret(current, field.name)
                }
                isNew={isNew}
                trans={trans}
                onChange={value =>
                  setForm(f => ({
                    ...f,
                    values: { ...f.values, [field.name]: value }
                  }))
                }
                onClear={clear =>
                  setForm(f => ({
                    ...f,
                    clear: { ...f.clear, [field.name]: clear }
                  }))
                }
              />
            ))}
        </div>
      )}
      {!readOnly && (
        <div className="jp-WorkbenchConnections-grid">
          <TextField
            id={`${idPrefix}-description`}
            field="description"
            label={trans.__('Description')}
            value={form.description}
            onChange={value => setForm(f => ({ ...f, description: value }))}
          />
          <TextField
            id={`${idPrefix}-groups`}
            field="shared_groups"
            label={trans.__('Shared with groups')}
            value={form.sharedGroups}
            help={trans.__('comma-separated; empty: only you (team mode)')}
            onChange={value => setForm(f => ({ ...f, sharedGroups: value }))}
          />
        </div>
      )}
      {props.problem && (
        <div className="jp-WorkbenchConnections-problem" role="alert">
          {props.problem}
        </div>
      )}
      <FormActions {...props} isNew={isNew} hasSpec={spec !== null} />
      <Outcome {...props} />
    </form>
  );
}

/**
 * Save (or Add), Test and Remove, and the confirmation of a removal.
 */
function FormActions(
  props: IConnectionFormProps & { isNew: boolean; hasSpec: boolean }
): JSX.Element {
  const { trans, busy, isNew, readOnly, current, confirming } = props;
  let save = isNew ? trans.__('Add') : trans.__('Save');
  if (busy === 'saving') {
    save = isNew ? trans.__('Adding…') : trans.__('Saving…');
  }
  return (
    <>
      <div className="jp-WorkbenchConnections-actions">
        {!readOnly && (
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            // Not `disabled` while busy: a disabled button loses the focus,
            // and the dialog's keys (Escape, Enter) with it.
            aria-disabled={busy !== null}
            disabled={!props.hasSpec}
          >
            {save}
          </button>
        )}
        {!isNew && (
          <button
            type="button"
            className="jp-mod-styled"
            aria-disabled={busy !== null}
            title={trans.__('Connect once with the saved settings')}
            onClick={props.onTest}
          >
            {busy === 'testing' ? trans.__('Testing…') : trans.__('Test')}
          </button>
        )}
        {!isNew && !readOnly && !confirming && (
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn jp-WorkbenchConnections-remove"
            aria-disabled={busy !== null}
            onClick={props.onAskRemove}
          >
            {trans.__('Remove…')}
          </button>
        )}
      </div>
      {!isNew && !readOnly && confirming && current && (
        <div className="jp-WorkbenchConnections-confirmRow" role="group">
          <span>
            {trans.__(
              'Remove %1? Notebooks and pipelines that use it will fail.',
              current.name
            )}
          </span>
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn jp-WorkbenchConnections-confirm"
            aria-disabled={busy !== null}
            onClick={props.onRemove}
          >
            {busy === 'removing' ? trans.__('Removing…') : trans.__('Remove')}
          </button>
          <button
            type="button"
            className="jp-mod-styled"
            onClick={props.onKeep}
          >
            {trans.__('Keep it')}
          </button>
        </div>
      )}
    </>
  );
}

/**
 * The outcome of the last test (the one place it is shown, the reason
 * first), else of the last action.
 */
function Outcome(props: IConnectionFormProps): JSX.Element {
  const { trans, result } = props;
  return (
    <div
      className={`jp-WorkbenchConnections-result${
        result ? (result.ok ? ' jp-mod-ok' : ' jp-mod-failed') : ''
      }`}
      role="status"
      aria-live="polite"
      data-ok={result ? String(result.ok) : undefined}
    >
      {result
        ? result.ok
          ? trans.__('✓ %1', result.message)
          : trans.__('✗ %1', testSummary(result, trans))
        : props.note}
      {props.unsaved && (
        <div className="jp-WorkbenchConnections-muted">
          {trans.__(
            'Unsaved changes: Test checks the saved settings, so save first.'
          )}
        </div>
      )}
    </div>
  );
}
