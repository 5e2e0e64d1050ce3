import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { describeError } from '../../request';
import {
  createBody,
  emptyForm,
  formOf,
  formProblem,
  hasStoredSecret,
  IConnectionForm,
  IFieldSpec,
  kindSpecs,
  patchBody
} from '../kinds';
import { mayChange, readOnlyNote } from '../readOnly';
import { IConnection, IConnectionsAPI, ITestResult } from '../tokens';
import { ReadOnlyConnection } from './ReadOnlyConnection';

/**
 * What the connections dialog needs from the application.
 */
export interface IConnectionsDialogOptions {
  api: IConnectionsAPI;
  trans: TranslationBundle;
  /**
   * Report a failure in the notification area (`what` says what was tried).
   */
  onError: (what: string, error: unknown) => void;
  /**
   * Report the outcome of a test in the notification area.
   */
  onTested: (ok: boolean, message: string) => void;
  /**
   * A connection was added or removed (e.g. to reload the catalog).
   */
  onChanged: () => void;
}

/**
 * The body of the connections dialog: the list of connections, and the form
 * of the one selected (or of a new one).
 */
export class ConnectionsBody extends ReactWidget {
  /**
   * Create the body; it loads the connections when first rendered.
   */
  constructor(options: IConnectionsDialogOptions) {
    super();
    this._options = options;
    this.addClass('jp-WorkbenchConnections');
  }

  protected onAfterAttach(msg: any): void {
    super.onAfterAttach(msg);
    // Before the dialog's own handler (capturing on the dialog node), which
    // would close the dialog on Enter in any input: here Enter saves the form.
    document.addEventListener('keydown', this._onKeyDown, true);
  }

  protected onBeforeDetach(msg: any): void {
    document.removeEventListener('keydown', this._onKeyDown, true);
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    document.removeEventListener('keydown', this._onKeyDown, true);
    super.dispose();
  }

  protected render(): JSX.Element {
    return <ConnectionsManager {...this._options} />;
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target;
    if (event.key !== 'Enter' || !(target instanceof HTMLElement)) {
      return;
    }
    if (!this.node.contains(target)) {
      return;
    }
    const isInput =
      target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
    if (!isInput) {
      return; // buttons and links handle Enter themselves
    }
    event.stopPropagation();
    event.preventDefault();
    if (target instanceof HTMLInputElement && target.type === 'checkbox') {
      return;
    }
    target.form?.requestSubmit();
  };

  private _options: IConnectionsDialogOptions;
}

/**
 * Show the connections dialog until it is closed.
 */
export async function showConnectionsDialog(
  options: IConnectionsDialogOptions
): Promise<void> {
  const { trans } = options;
  const dialog = new Dialog({
    title: trans.__('Workbench connections'),
    body: new ConnectionsBody(options),
    buttons: [Dialog.cancelButton({ label: trans.__('Close') })],
    focusNodeSelector: '.jp-WorkbenchConnections-add',
    hasClose: true
  });
  dialog.addClass('jp-WorkbenchConnectionsDialog');
  await dialog.launch();
}

/**
 * A test's outcome in one line, the reason first: notifications cut long
 * messages short, and the driver's words come after a long preamble.
 */
export function testSummary(
  result: ITestResult,
  trans: TranslationBundle
): string {
  if (result.ok) {
    return result.message;
  }
  const reasons: { [reason: string]: string } = {
    host_not_found: trans.__('host not found'),
    connection_refused: trans.__('connection refused'),
    authentication_failed: trans.__('authentication failed'),
    database_not_found: trans.__('database not found'),
    tls_error: trans.__('TLS error'),
    timeout: trans.__('no answer in time'),
    not_found: trans.__('not found')
  };
  const reason = result.reason ? reasons[result.reason] : undefined;
  return reason
    ? trans.__(
        'Test of %1 failed: %2. %3',
        result.connection,
        reason,
        result.message
      )
    : trans.__('Test of %1 failed: %2', result.connection, result.message);
}

type Busy = 'loading' | 'saving' | 'testing' | 'removing' | null;

/**
 * The list and the form. A `null` selection is a new connection.
 */
export function ConnectionsManager(
  props: IConnectionsDialogOptions
): JSX.Element {
  const { api, trans } = props;
  const [connections, setConnections] = React.useState<IConnection[] | null>(
    null
  );
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const [selected, setSelected] = React.useState<string | null>(null);
  const [form, setForm] = React.useState<IConnectionForm>(() => emptyForm());
  const [busy, setBusy] = React.useState<Busy>('loading');
  const [problem, setProblem] = React.useState<string | null>(null);
  const [note, setNote] = React.useState<string>('');
  const [tests, setTests] = React.useState<{ [name: string]: ITestResult }>({});
  const [confirming, setConfirming] = React.useState(false);
  const rootRef = React.useRef<HTMLDivElement>(null);
  // Whether the user picked a connection or "Add" (the first load then keeps it).
  const chosen = React.useRef(false);
  const idPrefix = React.useMemo(
    () => `jp-WorkbenchConnections-${Math.random().toString(36).slice(2, 8)}`,
    []
  );

  const current =
    selected === null
      ? null
      : (connections?.find(c => c.name === selected) ?? null);
  const isNew = current === null;
  // Shared with the user by someone else, or built in: used and tested only.
  const readOnly = current !== null && !mayChange(current);

  const show = (connection: IConnection | null) => {
    setSelected(connection?.name ?? null);
    setForm(connection ? formOf(connection) : emptyForm());
    setProblem(null);
    setConfirming(false);
  };

  const load = async (select?: string | null): Promise<void> => {
    setBusy('loading');
    try {
      const list = await api.list();
      setConnections(list);
      setLoadError(null);
      if (select !== undefined) {
        show(list.find(c => c.name === select) ?? null);
      } else if (!chosen.current) {
        // Not over a choice made while the list was loading.
        show(list[0] ?? null);
      }
    } catch (error) {
      setLoadError(describeError(error, trans));
      props.onError(trans.__('Loading the connections failed'), error);
    } finally {
      setBusy(null);
    }
  };

  React.useEffect(() => {
    void load();
  }, []);

  // Where the focus goes once React has rendered the change under way: the
  // first of the selectors that matches. Without this, a button that goes
  // away (Remove, Add) would leave the focus outside the dialog.
  const focusNext = React.useRef<string[] | null>(null);
  React.useEffect(() => {
    const selectors = focusNext.current;
    focusNext.current = null;
    for (const selector of selectors ?? []) {
      const found = rootRef.current?.querySelector<HTMLElement>(selector);
      if (found) {
        found.focus();
        return;
      }
    }
  });
  const focusField = (...selectors: string[]) => {
    focusNext.current = selectors;
  };

  const startNew = () => {
    chosen.current = true;
    show(null);
    setNote('');
    focusField('[data-field="name"]');
  };

  const setValue = (field: string, value: string | boolean) =>
    setForm(f => ({ ...f, values: { ...f.values, [field]: value } }));

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    if (busy || readOnly) {
      return;
    }
    const found = formProblem(form, isNew, trans);
    setProblem(found);
    if (found) {
      return;
    }
    const name = isNew ? form.name.trim() : current.name;
    setBusy('saving');
    try {
      if (isNew) {
        await api.create(createBody(form));
        setNote(
          trans.__(
            'Added %1. Test it, then scan it into the catalog to browse its tables.',
            name
          )
        );
        props.onChanged();
        await load(name);
      } else {
        const patch = patchBody(current, form);
        if (patch === null) {
          setNote(trans.__('Nothing to save: no field was changed.'));
          return;
        }
        const saved = await api.update(name, patch);
        setConnections(list =>
          (list ?? []).map(c => (c.name === name ? saved : c))
        );
        setTests(t => {
          const rest = { ...t };
          delete rest[name]; // tested with the settings before the change
          return rest;
        });
        show(saved);
        setNote(trans.__('Saved %1.', name));
      }
    } catch (error) {
      setProblem(describeError(error, trans));
      props.onError(
        isNew
          ? trans.__('Adding connection %1 failed', name)
          : trans.__('Saving connection %1 failed', name),
        error
      );
    } finally {
      setBusy(null);
    }
  };

  const test = async () => {
    if (!current || busy) {
      return;
    }
    const name = current.name;
    setBusy('testing');
    setNote('');
    try {
      const result = await api.test(name);
      setTests(t => ({ ...t, [name]: result }));
      props.onTested(result.ok, testSummary(result, trans));
    } catch (error) {
      props.onError(trans.__('Testing connection %1 failed', name), error);
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    if (!current || busy || readOnly) {
      return;
    }
    const name = current.name;
    setBusy('removing');
    try {
      await api.remove(name);
      props.onChanged();
      chosen.current = false;
      await load();
      setNote(trans.__('Removed %1.', name));
      // The pressed button is gone: keep the focus in the dialog (Escape
      // closes it only from there).
      focusField(
        '.jp-WorkbenchConnections-item.jp-mod-selected',
        '.jp-WorkbenchConnections-add'
      );
    } catch (error) {
      props.onError(trans.__('Removing connection %1 failed', name), error);
    } finally {
      setBusy(null);
      setConfirming(false);
    }
  };

  const specs = React.useMemo(() => kindSpecs(trans), [trans]);
  const kindLabel = (kind: string) =>
    specs.find(k => k.kind === kind)?.label ?? kind;
  const spec = specs.find(k => k.kind === form.kind) ?? null;
  const result = current ? tests[current.name] : undefined;
  const unsaved =
    current !== null && !readOnly && patchBody(current, form) !== null;

  return (
    <div className="jp-WorkbenchConnections-layout" ref={rootRef}>
      <div className="jp-WorkbenchConnections-sidebar">
        <button
          type="button"
          className="jp-mod-styled jp-WorkbenchConnections-add"
          aria-pressed={isNew}
          onClick={startNew}
        >
          {trans.__('+ Add connection')}
        </button>
        {loadError !== null && (
          <div className="jp-WorkbenchConnections-problem" role="alert">
            {trans.__('The connections could not be loaded: %1', loadError)}{' '}
            <button
              type="button"
              className="jp-mod-styled"
              onClick={() => void load()}
            >
              {trans.__('Retry')}
            </button>
          </div>
        )}
        <ul
          className="jp-WorkbenchConnections-list"
          aria-label={trans.__('Connections')}
          aria-busy={busy === 'loading'}
        >
          {(connections ?? []).map(c => {
            const tested = tests[c.name];
            return (
              <li key={c.name}>
                <button
                  type="button"
                  className={`jp-WorkbenchConnections-item${
                    c.name === selected ? ' jp-mod-selected' : ''
                  }`}
                  aria-current={c.name === selected}
                  data-connection={c.name}
                  data-may-change={String(mayChange(c))}
                  title={readOnlyNote(c, trans) ?? undefined}
                  onClick={() => {
                    chosen.current = true;
                    show(c);
                    setNote('');
                  }}
                >
                  <span className="jp-WorkbenchConnections-itemName">
                    {c.name}
                  </span>
                  <span className="jp-WorkbenchConnections-itemKind">
                    {kindLabel(c.kind)}
                  </span>
                  {tested && (
                    <span
                      className={`jp-WorkbenchConnections-badge ${
                        tested.ok ? 'jp-mod-ok' : 'jp-mod-failed'
                      }`}
                      title={tested.message}
                    >
                      {tested.ok ? trans.__('OK') : trans.__('failed')}
                    </span>
                  )}
                </button>
              </li>
            );
          })}
        </ul>
        {connections !== null && connections.length === 0 && (
          <p className="jp-WorkbenchConnections-muted">
            {trans.__('No connections yet.')}
          </p>
        )}
      </div>
      <form
        className="jp-WorkbenchConnections-form"
        aria-label={
          isNew
            ? trans.__('New connection')
            : trans.__('Connection %1', current.name)
        }
        noValidate
        onSubmit={event => void save(event)}
      >
        <h3 className="jp-WorkbenchConnections-heading">
          {isNew ? trans.__('New connection') : current.name}
          {!isNew && (
            <span className="jp-WorkbenchConnections-muted">
              {' '}
              {kindLabel(current.kind)} ·{' '}
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
                options={specs.map(k => ({ value: k.kind, label: k.label }))}
                onChange={event => {
                  const kind = event.currentTarget.value;
                  setForm(f => ({
                    ...emptyForm(kind),
                    name: f.name,
                    description: f.description,
                    sharedGroups: f.sharedGroups
                  }));
                  setProblem(null);
                }}
              />
            </div>
          </div>
        )}
        {readOnly ? (
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
            {spec.fields.map(field => (
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
                onChange={value => setValue(field.name, value)}
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
        {problem && (
          <div className="jp-WorkbenchConnections-problem" role="alert">
            {problem}
          </div>
        )}
        <div className="jp-WorkbenchConnections-actions">
          {!readOnly && (
            <button
              type="submit"
              className="jp-mod-styled jp-mod-accept"
              // Not `disabled` while busy: a disabled button loses the focus,
              // and the dialog's keys (Escape, Enter) with it.
              aria-disabled={busy !== null}
              disabled={spec === null}
            >
              {isNew
                ? busy === 'saving'
                  ? trans.__('Adding…')
                  : trans.__('Add')
                : busy === 'saving'
                  ? trans.__('Saving…')
                  : trans.__('Save')}
            </button>
          )}
          {!isNew && (
            <button
              type="button"
              className="jp-mod-styled"
              aria-disabled={busy !== null}
              title={trans.__('Connect once with the saved settings')}
              onClick={() => void test()}
            >
              {busy === 'testing' ? trans.__('Testing…') : trans.__('Test')}
            </button>
          )}
          {!isNew && !readOnly && !confirming && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn jp-WorkbenchConnections-remove"
              aria-disabled={busy !== null}
              onClick={() => {
                if (busy) {
                  return;
                }
                setConfirming(true);
                focusField('.jp-WorkbenchConnections-confirm');
              }}
            >
              {trans.__('Remove…')}
            </button>
          )}
        </div>
        {!isNew && !readOnly && confirming && (
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
              onClick={() => void remove()}
            >
              {busy === 'removing' ? trans.__('Removing…') : trans.__('Remove')}
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              onClick={() => setConfirming(false)}
            >
              {trans.__('Keep it')}
            </button>
          </div>
        )}
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
              : trans.__('✗ %1', result.message)
            : note}
          {unsaved && (
            <div className="jp-WorkbenchConnections-muted">
              {trans.__(
                'Unsaved changes: Test checks the saved settings, so save first.'
              )}
            </div>
          )}
        </div>
      </form>
    </div>
  );
}

function TextField(props: {
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

function SettingField(props: {
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
