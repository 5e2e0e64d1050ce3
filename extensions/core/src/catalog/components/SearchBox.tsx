import * as React from 'react';

/**
 * The search box. It owns its value: the panel re-renders on a later
 * animation frame with the query as it was then, and an input fed back from
 * that would lose the keys typed meanwhile. A query set from outside (the
 * search command) comes with a new `version`.
 */
export function SearchBox(props: {
  external: { query: string; version: number };
  label: string;
  placeholder: string;
  onQuery: (query: string) => void;
}): JSX.Element {
  const { external } = props;
  const [value, setValue] = React.useState(external.query);
  React.useEffect(() => {
    if (external.version > 0) {
      setValue(external.query);
    }
  }, [external.version]);
  const change = (next: string) => {
    setValue(next);
    props.onQuery(next);
  };
  return (
    <input
      type="search"
      className="jp-mod-styled"
      value={value}
      placeholder={props.placeholder}
      aria-label={props.label}
      spellCheck={false}
      onChange={event => change(event.currentTarget.value)}
      onKeyDown={event => {
        if (event.key === 'Escape' && value) {
          event.preventDefault();
          change('');
        } else if (event.key === 'ArrowDown') {
          // Into the list, as in the command palette.
          const list = event.currentTarget
            .closest('.jp-WorkbenchCatalog-body')
            ?.querySelector<HTMLElement>('.jp-WorkbenchCatalog-list');
          if (list) {
            event.preventDefault();
            list.focus();
          }
        }
      }}
    />
  );
}
