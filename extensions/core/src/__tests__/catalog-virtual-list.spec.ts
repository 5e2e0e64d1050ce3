/**
 * The virtual list in a DOM: what a mouse press, a click and a double click
 * do to the active row and to expand/collapse.
 */
import * as React from 'react';

// No @types/react-dom here: the two calls used, typed by hand.
interface IRoot {
  render(node: React.ReactNode): void;
  unmount(): void;
}
declare const require: (id: string) => unknown;
const { createRoot } = require('react-dom/client') as {
  createRoot: (container: Element) => IRoot;
};

import { VirtualList } from '../catalog/components/VirtualList';

// React 18: tell it that this is a test environment, so act() flushes.
(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

interface IHarness {
  activeChanges: number[];
  activations: number[];
  expanded: Set<number>;
}

/**
 * A tree-like list: activating a row toggles it, as a schema row does.
 */
function Harness(props: { rows: number; log: IHarness }): JSX.Element {
  const [active, setActive] = React.useState(-1);
  const [, setVersion] = React.useState(0);
  const { log } = props;
  return React.createElement(VirtualList, {
    role: 'tree',
    label: 'rows',
    rowCount: props.rows,
    rowHeight: 20,
    rowKey: (i: number) => `r${i}`,
    activeIndex: active,
    onActiveChange: (i: number) => {
      log.activeChanges.push(i);
      setActive(i);
    },
    onActivate: (i: number) => {
      log.activations.push(i);
      if (log.expanded.has(i)) {
        log.expanded.delete(i);
      } else {
        log.expanded.add(i);
      }
      setVersion(v => v + 1);
    },
    rowAria: (i: number) => ({ 'aria-expanded': log.expanded.has(i) }),
    renderRow: (i: number) =>
      React.createElement('span', { className: 'name' }, `row ${i}`)
  });
}

describe('VirtualList with a mouse', () => {
  let host: HTMLDivElement;
  let root: IRoot;
  let log: IHarness;

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
    root = createRoot(host);
    log = { activeChanges: [], activations: [], expanded: new Set() };
    React.act(() => {
      root.render(React.createElement(Harness, { rows: 5, log }));
    });
  });

  afterEach(() => {
    React.act(() => root.unmount());
    host.remove();
  });

  const row = (index: number): HTMLElement =>
    host.querySelector<HTMLElement>(`[aria-posinset="${index + 1}"] .name`)!;

  const press = (index: number, detail: number = 1) => {
    const target = row(index);
    React.act(() => {
      target.dispatchEvent(
        new MouseEvent('mousedown', { bubbles: true, button: 0, detail })
      );
    });
    React.act(() => {
      target.dispatchEvent(
        new MouseEvent('mouseup', { bubbles: true, button: 0, detail })
      );
      target.dispatchEvent(
        new MouseEvent('click', { bubbles: true, button: 0, detail })
      );
    });
  };

  it('makes the pressed row active, never the first one, and expands it', () => {
    const list = host.querySelector<HTMLElement>('[role="tree"]')!;
    expect(document.activeElement).not.toBe(list);

    press(3);

    // Focusing an unfocused list by mouse used to make row 0 active first,
    // which in a scrolled list scrolls row 0 into view under the pointer.
    expect(log.activeChanges).not.toContain(0);
    expect(log.activeChanges[0]).toBe(3);
    expect(document.activeElement).toBe(list);
    expect(log.activations).toEqual([3]);
    const item = host.querySelector('[aria-posinset="4"]')!;
    expect(item.getAttribute('aria-selected')).toBe('true');
    expect(item.getAttribute('aria-expanded')).toBe('true');
  });

  it('expands once on a double click instead of expanding and collapsing', () => {
    press(2, 1);
    press(2, 2);
    expect(log.activations).toEqual([2]);
    expect(
      host.querySelector('[aria-posinset="3"]')!.getAttribute('aria-expanded')
    ).toBe('true');

    // Two separate clicks still collapse it again.
    press(2, 1);
    expect(
      host.querySelector('[aria-posinset="3"]')!.getAttribute('aria-expanded')
    ).toBe('false');
  });

  it('still makes the first row active when the list is focused by the keyboard', () => {
    const list = host.querySelector<HTMLElement>('[role="tree"]')!;
    React.act(() => list.focus());
    expect(log.activeChanges).toEqual([0]);
    expect(log.activations).toEqual([]);
  });
});
