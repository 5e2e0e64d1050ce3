import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  caretRightIcon,
  tableRowsIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IScanProgress } from '../scans';
import { flattenTree, ITreeState, TreeRow } from '../tree';
import { ITable } from '../tokens';
import { VirtualList } from './VirtualList';

/**
 * Height of a tree row in pixels.
 */
const TREE_ROW_HEIGHT = 26;

/**
 * What the browse tree needs from the panel.
 */
export interface IBrowseTreeProps {
  trans: TranslationBundle;
  tree: ITreeState;
  /**
   * The scan of a source started from this browser, if any.
   */
  scanOf: (connection: string) => IScanProgress | null;
  onToggle: (key: string, expand?: boolean) => void;
  onLoadMore: (key: string) => void;
  onRetry: (owner: string) => void;
  onSelect: (table: ITable) => void;
  onSelectSource: (connection: string) => void;
  onOpen: (table: ITable) => void;
  onScan: (connection: string) => void;
}

/**
 * Sources, their schemas and tables, as a keyboard-driven tree.
 */
export function BrowseTree(props: IBrowseTreeProps): JSX.Element {
  const { trans } = props;
  const rows = React.useMemo(() => flattenTree(props.tree), [props.tree]);
  const [activeKey, setActiveKey] = React.useState<string | null>(null);
  const active = activeKey ? rows.findIndex(r => r.key === activeKey) : -1;

  const parentIndex = (index: number): number => {
    const depth = rows[index].depth;
    for (let i = index - 1; i >= 0; i--) {
      if (rows[i].depth < depth) {
        return i;
      }
    }
    return -1;
  };

  const activate = (row: TreeRow) => {
    switch (row.kind) {
      case 'source':
      case 'schema':
        props.onToggle(row.key);
        break;
      case 'table':
        props.onOpen(row.table);
        break;
      case 'status':
        if (row.status === 'error') {
          props.onRetry(row.owner);
        } else if (row.status === 'more') {
          props.onLoadMore(row.owner);
        } else if (row.status === 'empty' && row.depth === 1) {
          // A source with no table yet: the row says to scan it.
          props.onScan(connectionOf(row.owner));
        }
        break;
    }
  };

  return (
    <VirtualList
      className="jp-WorkbenchCatalog-tree"
      role="tree"
      label={trans.__('Catalog sources')}
      rowCount={rows.length}
      rowHeight={TREE_ROW_HEIGHT}
      rowKey={index => rows[index].key}
      activeIndex={active}
      onActiveChange={index => {
        const row = rows[index];
        setActiveKey(row.key);
        if (row.kind === 'table') {
          props.onSelect(row.table);
          props.onSelectSource(row.table.connection);
        } else if (row.kind === 'source') {
          props.onSelectSource(row.source.connection);
        } else if (row.kind === 'schema') {
          props.onSelectSource(row.connection);
        }
      }}
      onActivate={index => activate(rows[index])}
      onRowKey={(key, index) => {
        const row = rows[index];
        const expandable = row.kind === 'source' || row.kind === 'schema';
        if (key === 'ArrowRight' && expandable) {
          if (!row.expanded) {
            props.onToggle(row.key, true);
          } else if (rows[index + 1]) {
            setActiveKey(rows[index + 1].key);
          }
          return true;
        }
        if (key === 'ArrowLeft') {
          if (expandable && row.expanded) {
            props.onToggle(row.key, false);
          } else {
            const parent = parentIndex(index);
            if (parent >= 0) {
              setActiveKey(rows[parent].key);
            }
          }
          return true;
        }
        return false;
      }}
      onRangeChange={range => {
        // A "load more" row scrolled into view loads the next page.
        for (let i = range.start; i < range.end; i++) {
          const row = rows[i];
          if (row && row.kind === 'status' && row.status === 'more') {
            props.onLoadMore(row.owner);
          }
        }
      }}
      rowAria={index => {
        const row = rows[index];
        const aria: { [key: string]: string | number | boolean } = {
          'aria-level': row.depth + 1
        };
        if (row.kind === 'source' || row.kind === 'schema') {
          aria['aria-expanded'] = row.expanded;
        }
        return aria;
      }}
      renderRow={index => (
        <TreeNode row={rows[index]} trans={trans} scanOf={props.scanOf} />
      )}
    />
  );
}

function TreeNode(props: {
  row: TreeRow;
  trans: TranslationBundle;
  scanOf: (connection: string) => IScanProgress | null;
}): JSX.Element {
  const { row, trans } = props;
  const indent = { paddingLeft: `${8 + row.depth * 14}px` };
  const caret = (expanded: boolean) => {
    const Icon = expanded ? caretDownIcon : caretRightIcon;
    return (
      <Icon.react
        tag="span"
        className="jp-WorkbenchCatalog-caret"
        elementSize="normal"
      />
    );
  };
  switch (row.kind) {
    case 'source': {
      const scan = props.scanOf(row.source.connection);
      const scanning =
        scan?.status === 'starting' || scan?.status === 'running';
      return (
        <div
          className="jp-WorkbenchCatalog-node"
          style={indent}
          data-source={row.source.connection}
          data-scannable={String(row.source.scannable)}
          data-scan={scan?.status}
        >
          {caret(row.expanded)}
          <span className="jp-WorkbenchCatalog-name">
            {row.source.connection}
          </span>
          <span className="jp-WorkbenchCatalog-where">
            {scanning
              ? trans.__('scanning…')
              : `${row.source.kind} · ${row.source.tables}`}
          </span>
        </div>
      );
    }
    case 'schema':
      return (
        <div className="jp-WorkbenchCatalog-node" style={indent}>
          {caret(row.expanded)}
          <span className="jp-WorkbenchCatalog-name">{row.schema.name}</span>
          <span className="jp-WorkbenchCatalog-where">{row.schema.tables}</span>
        </div>
      );
    case 'table':
      return (
        <div
          className="jp-WorkbenchCatalog-node"
          style={indent}
          data-table={row.table.name}
          title={row.table.label ?? row.table.name}
        >
          <tableRowsIcon.react tag="span" elementSize="normal" />
          <span className="jp-WorkbenchCatalog-name">{row.table.name}</span>
          {row.table.label && (
            <span className="jp-WorkbenchCatalog-where">{row.table.label}</span>
          )}
        </div>
      );
    case 'status': {
      let text: string;
      switch (row.status) {
        case 'loading':
          text = trans.__('Loading…');
          break;
        case 'error':
          text = trans.__('%1 (press Enter to retry)', row.error ?? '');
          break;
        case 'more':
          text = trans.__('Load more (%1 of %2)', row.loaded, row.total);
          break;
        default:
          text =
            row.owner === 'sources'
              ? trans.__(
                  'No connections yet: add one, then scan it into the catalog.'
                )
              : row.depth === 1
                ? trans.__(
                    'No tables in the catalog yet: press Enter here to scan %1.',
                    connectionOf(row.owner)
                  )
                : trans.__('No tables.');
      }
      return (
        <div
          className={`jp-WorkbenchCatalog-node jp-WorkbenchCatalog-status jp-mod-${row.status}`}
          data-source={row.depth === 1 ? connectionOf(row.owner) : undefined}
          style={indent}
          title={row.status === 'error' ? row.error : undefined}
        >
          {text}
        </div>
      );
    }
  }
}

/**
 * The connection of a source node's key (`source:<name>`).
 */
function connectionOf(key: string): string {
  return key.startsWith('source:') ? key.slice('source:'.length) : key;
}
