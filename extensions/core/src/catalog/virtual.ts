/**
 * Windowing arithmetic of the virtual list: which rows a scroll position
 * shows, and where to scroll to bring a row into view.
 */

/**
 * A half-open range of row indexes, [start, end).
 */
export interface IRange {
  start: number;
  end: number;
}

/**
 * The rows to render: those in the viewport plus `overscan` rows either side
 * (so fast scrolling does not show blanks), clamped to the list.
 */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan: number = 5
): IRange {
  if (rowCount <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first, rowCount - 1) - overscan);
  const end = Math.min(rowCount, first + shown + overscan);
  return { start, end };
}

/**
 * The scroll position that shows row `index` with the least movement, or
 * the current one when it is already fully visible.
 */
export function scrollToShow(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) {
    return top;
  }
  if (bottom > scrollTop + viewportHeight) {
    return Math.max(0, bottom - viewportHeight);
  }
  return scrollTop;
}

/**
 * The row that keyboard navigation moves to from `current`.
 *
 * @param key `ArrowUp`, `ArrowDown`, `Home`, `End`, `PageUp` or `PageDown`.
 * @param pageRows Rows per page for PageUp/PageDown.
 * @returns The new index, or null when the key is not a navigation key.
 */
export function navigate(
  key: string,
  current: number,
  rowCount: number,
  pageRows: number
): number | null {
  if (rowCount <= 0) {
    return null;
  }
  const last = rowCount - 1;
  const from = Math.min(Math.max(current, -1), last);
  switch (key) {
    case 'ArrowDown':
      return Math.min(last, from + 1);
    case 'ArrowUp':
      return Math.max(0, from - 1);
    case 'Home':
      return 0;
    case 'End':
      return last;
    case 'PageDown':
      return Math.min(last, Math.max(0, from) + Math.max(1, pageRows));
    case 'PageUp':
      return Math.max(0, from - Math.max(1, pageRows));
  }
  return null;
}
