/**
 * The connections dialog's content: loads the connections, keeps the one
 * selected and its form, and saves, tests and removes through the API.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { describeError } from '../../request';
import {
  createBody,
  emptyForm,
  formOf,
  formProblem,
  IConnectionForm,
  kindSpecs,
  patchBody
} from '../kinds';
import { mayChange } from '../readOnly';
import { IConnection, IConnectionsAPI, ITestResult } from '../tokens';
import { ConnectionForm, Busy } from './ConnectionForm';
import { ConnectionList } from './ConnectionList';

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
   * A connection was added or removed (e.g. to reload the catalog).
   */
  onChanged: () => void;
}

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
  const focusField = useFocusAfterRender(rootRef);

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
      // Shown in the dialog only: a notification said it a second time.
      const result = await api.test(name);
      setTests(t => ({ ...t, [name]: result }));
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

  return (
    <div className="jp-WorkbenchConnections-layout" ref={rootRef}>
      <ConnectionList
        trans={trans}
        connections={connections}
        selected={selected}
        loading={busy === 'loading'}
        loadError={loadError}
        tests={tests}
        kindLabel={kindLabel}
        onAdd={() => {
          chosen.current = true;
          show(null);
          setNote('');
          focusField('[data-field="name"]');
        }}
        onSelect={connection => {
          chosen.current = true;
          show(connection);
          setNote('');
        }}
        onRetry={() => void load()}
      />
      <ConnectionForm
        trans={trans}
        idPrefix={idPrefix}
        current={current}
        readOnly={readOnly}
        form={form}
        specs={specs}
        busy={busy}
        problem={problem}
        note={note}
        result={current ? tests[current.name] : undefined}
        unsaved={
          current !== null && !readOnly && patchBody(current, form) !== null
        }
        confirming={confirming}
        kindLabel={kindLabel}
        setForm={setForm}
        onKindChange={() => setProblem(null)}
        onSave={event => void save(event)}
        onTest={() => void test()}
        onAskRemove={() => {
          if (busy) {
            return;
          }
          setConfirming(true);
          focusField('.jp-WorkbenchConnections-confirm');
        }}
        onRemove={() => void remove()}
        onKeep={() => setConfirming(false)}
      />
    </div>
  );
}

/**
 * Where the focus goes once React has rendered the change under way: the
 * first of the selectors that matches. Without this, a button that goes away
 * (Remove, Add) would leave the focus outside the dialog.
 */
function useFocusAfterRender(
  root: React.RefObject<HTMLElement>
): (...selectors: string[]) => void {
  const next = React.useRef<string[] | null>(null);
  React.useEffect(() => {
    const selectors = next.current;
    next.current = null;
    for (const selector of selectors ?? []) {
      const found = root.current?.querySelector<HTMLElement>(selector);
      if (found) {
        found.focus();
        return;
      }
    }
  });
  return (...selectors: string[]) => {
    next.current = selectors;
  };
}
