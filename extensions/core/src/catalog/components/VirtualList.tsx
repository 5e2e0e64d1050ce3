import * as React from 'react';

import { IRange, navigate, scrollToShow, visibleRange } from '../virtual';

/**
 * Properties of a virtual list.
 */
export interface IVirtualListProps {
  /**
   * Number of rows.
   */
  rowCount: number;

  /**
   * Height of every row in pixels.
   */
  rowHeight: number;

  /**
   * Render one row's content; the list positions it.
   */
  renderRow: (index: number, active: boolean) => React.ReactNode;

  /**
   * Stable key of a row (for React and for the row's DOM id).
   */
  rowKey: (index: number) => string;

  /**
   * The keyboard-active row, or -1.
   */
  activeIndex: number;

  /**
   * The active row changed (arrow keys, click).
   */
  onActiveChange: (index: number) => void;

  /**
   * Enter on, or click of, a row (once for a double click).
   */
  onActivate: (index: number) => void;

  /**
   * Other keys on the active row (e.g. ArrowRight to expand); return true
   * when handled.
   */
  onRowKey?: (key: string, index: number) => boolean;

  /**
   * The rendered rows changed (to load what is about to be seen).
   */
  onRangeChange?: (range: IRange) => void;

  /**
   * ARIA role of the list: a listbox of results or a tree.
   */
  role: 'listbox' | 'tree';

  /**
   * Accessible name of the list.
   */
  label: string;

  /**
   * ARIA attributes of a row (e.g. aria-level and aria-expanded of a tree item).
   */
  rowAria?: (index: number) => { [key: string]: string | number | boolean };

  /**
   * Extra class of the list.
   */
  className?: string;
}

/**
 * A list that renders only the rows in view (plus a few), so ten thousand
 * rows scroll as smoothly as ten. Focus stays on the list; the active row is
 * announced with aria-activedescendant and kept in view.
 */
export function VirtualList(props: IVirtualListProps): JSX.Element {
  const { rowCount, rowHeight, activeIndex, onRangeChange, rowKey, renderRow } =
    props;
  const ref = React.useRef<HTMLDivElement>(null);
  // True while a row is pressed: the focus that follows is the mouse's.
  const pressing = React.useRef(false);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  const idPrefix = React.useMemo(
    () => `jp-WorkbenchCatalog-row-${Math.random().toString(36).slice(2, 8)}`,
    []
  );

  React.useEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    setHeight(node.clientHeight);
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(node.clientHeight));
    observer.observe(node);
    return () => observer.disconnect();
  }, []);

  const range = visibleRange(scrollTop, height, rowHeight, rowCount);
  React.useEffect(() => {
    onRangeChange?.(range);
  }, [range.start, range.end, rowCount]);

  // Keep the active row in view (and so rendered, for aria-activedescendant).
  React.useEffect(() => {
    const node = ref.current;
    if (!node || activeIndex < 0) {
      return;
    }
    const top = scrollToShow(
      activeIndex,
      node.scrollTop,
      node.clientHeight,
      rowHeight
    );
    if (top !== node.scrollTop) {
      node.scrollTop = top;
      setScrollTop(top);
    }
  }, [activeIndex, rowHeight]);

  const onKeyDown = (event: React.KeyboardEvent<HTMLDivElement>) => {
    const pageRows = Math.max(1, Math.floor(height / rowHeight) - 1);
    const next = navigate(event.key, activeIndex, rowCount, pageRows);
    if (next !== null) {
      event.preventDefault();
      props.onActiveChange(next);
      return;
    }
    if (activeIndex < 0 || activeIndex >= rowCount) {
      return;
    }
    if (event.key === 'Enter') {
      event.preventDefault();
      props.onActivate(activeIndex);
    } else if (props.onRowKey?.(event.key, activeIndex)) {
      event.preventDefault();
    }
  };

  const rows: JSX.Element[] = [];
  for (let index = range.start; index < range.end; index++) {
    const active = index === activeIndex;
    rows.push(
      <div
        key={rowKey(index)}
        id={`${idPrefix}-${index}`}
        className={`jp-WorkbenchCatalog-row${active ? ' jp-mod-active' : ''}`}
        style={{ top: index * rowHeight, height: rowHeight }}
        role={props.role === 'tree' ? 'treeitem' : 'option'}
        aria-selected={active}
        aria-posinset={index + 1}
        aria-setsize={rowCount}
        {...(props.rowAria?.(index) ?? {})}
        onMouseDown={event => {
          if (event.button !== 0) {
            return;
          }
          // Keep focus on the list (not on the row) so keys keep working.
          // The pressed row becomes the active one first: focusing a list
          // without an active row would make row 0 active and scroll it into
          // view, moving the pressed row away before the click arrives.
          event.preventDefault();
          pressing.current = true;
          try {
            if (index !== activeIndex) {
              props.onActiveChange(index);
            }
            ref.current?.focus({ preventScroll: true });
          } finally {
            pressing.current = false;
          }
        }}
        onClick={event => {
          // The second click of a double click would undo the first one
          // (expand, then collapse again).
          if (event.detail > 1) {
            return;
          }
          props.onActiveChange(index);
          props.onActivate(index);
        }}
      >
        {renderRow(index, active)}
      </div>
    );
  }

  return (
    <div
      ref={ref}
      className={`jp-WorkbenchCatalog-list ${props.className ?? ''}`}
      role={props.role}
      aria-label={props.label}
      aria-activedescendant={
        activeIndex >= range.start && activeIndex < range.end
          ? `${idPrefix}-${activeIndex}`
          : undefined
      }
      tabIndex={0}
      onScroll={event => setScrollTop(event.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
      onFocus={() => {
        if (!pressing.current && activeIndex < 0 && rowCount > 0) {
          props.onActiveChange(0);
        }
      }}
    >
      <div
        className="jp-WorkbenchCatalog-listInner"
        style={{ height: rowCount * rowHeight }}
      >
        {rows}
      </div>
    </div>
  );
}
