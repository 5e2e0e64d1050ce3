import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

/**
 * Properties of an in-place editor.
 */
export interface IInlineEditProps {
  /**
   * The saved value.
   */
  value: string;

  /**
   * Save a new value; resolve true when saved (the editor closes), false when
   * it failed (the editor stays open with the text kept).
   */
  onSave: (value: string) => Promise<boolean>;

  /**
   * Shown instead of an empty value.
   */
  placeholder: string;

  /**
   * Accessible name, e.g. "Description of account_move".
   */
  label: string;

  /**
   * Several lines (Ctrl+Enter saves) or one (Enter saves).
   */
  multiline?: boolean;

  trans: TranslationBundle;

  className?: string;
}

/**
 * Text shown as is and edited in place: click it (or focus it and press
 * Enter) to edit; Enter or Ctrl+Enter saves, Escape cancels.
 */
export function InlineEdit(props: IInlineEditProps): JSX.Element {
  const { value, trans, multiline } = props;
  const [editing, setEditing] = React.useState(false);
  const [draft, setDraft] = React.useState(value);
  const [saving, setSaving] = React.useState(false);
  const field = React.useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const shown = React.useRef<HTMLButtonElement>(null);

  React.useEffect(() => {
    if (editing) {
      field.current?.focus();
      field.current?.select();
    }
  }, [editing]);

  const close = () => {
    setEditing(false);
    // Give focus back to where it was, for keyboard users.
    requestAnimationFrame(() => shown.current?.focus());
  };

  const save = async () => {
    if (draft === value) {
      close();
      return;
    }
    setSaving(true);
    const saved = await props.onSave(draft);
    setSaving(false);
    if (saved) {
      close();
    }
  };

  if (!editing) {
    return (
      <button
        ref={shown}
        type="button"
        className={`jp-WorkbenchCatalog-inline ${props.className ?? ''}${
          value ? '' : ' jp-mod-empty'
        }`}
        aria-label={trans.__('Edit %1', props.label)}
        title={trans.__('Click to edit')}
        onClick={() => {
          setDraft(value);
          setEditing(true);
        }}
      >
        {value || props.placeholder}
      </button>
    );
  }

  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (
      event.key === 'Enter' &&
      (!multiline || event.ctrlKey || event.metaKey)
    ) {
      event.preventDefault();
      void save();
    }
  };

  return (
    <div
      className={`jp-WorkbenchCatalog-inlineEditor ${props.className ?? ''}`}
    >
      {multiline ? (
        <textarea
          ref={field}
          className="jp-mod-styled"
          aria-label={props.label}
          value={draft}
          rows={3}
          disabled={saving}
          onChange={event => setDraft(event.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
      ) : (
        <input
          ref={field}
          className="jp-mod-styled"
          aria-label={props.label}
          value={draft}
          disabled={saving}
          onChange={event => setDraft(event.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
      )}
      <div className="jp-WorkbenchCatalog-inlineButtons">
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept"
          disabled={saving}
          onClick={() => void save()}
        >
          {saving ? trans.__('Saving…') : trans.__('Save')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject"
          disabled={saving}
          onClick={close}
        >
          {trans.__('Cancel')}
        </button>
        <span className="jp-WorkbenchCatalog-hint">
          {multiline
            ? trans.__('Ctrl+Enter to save, Escape to cancel')
            : trans.__('Enter to save, Escape to cancel')}
        </span>
      </div>
    </div>
  );
}
