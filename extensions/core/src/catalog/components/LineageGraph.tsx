import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ArrowMarker } from '../../components/ArrowMarker';

import {
  ILineageLayout,
  ILineageNode,
  LINEAGE_NODE_HEIGHT,
  LINEAGE_NODE_WIDTH
} from '../lineage';

/**
 * Characters of a node's name that fit its box.
 */
const NAME_CHARS = 26;

function shorten(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/**
 * The lineage of a table as a small SVG: what it is made from on the left,
 * the table in the middle, what is made from it on the right. Datasets with
 * a catalog entry open on click (or Enter/Space).
 */
export function LineageGraph(props: {
  layout: ILineageLayout;
  trans: TranslationBundle;
  /**
   * Document-unique id of the arrow marker.
   */
  markerId: string;
  onOpenTable: (tableId: number) => void;
}): JSX.Element {
  const { layout, trans, markerId } = props;
  const node = (n: ILineageNode) => {
    const opens = !n.root && n.tableId !== null;
    const open = () => {
      if (opens) {
        props.onOpenTable(n.tableId!);
      }
    };
    const where =
      n.column < 0
        ? trans._n('%1 step upstream', '%1 steps upstream', -n.column)
        : n.column > 0
          ? trans._n('%1 step downstream', '%1 steps downstream', n.column)
          : trans.__('this table');
    const title = opens
      ? trans.__(
          '%1:%2 (%3) — open it',
          n.dataset.namespace,
          n.dataset.name,
          where
        )
      : n.root
        ? trans.__('%1:%2 (%3)', n.dataset.namespace, n.dataset.name, where)
        : trans.__(
            '%1:%2 (%3) — not in the catalog',
            n.dataset.namespace,
            n.dataset.name,
            where
          );
    return (
      <g
        key={n.key}
        className={`jp-WorkbenchLineage-node${n.root ? ' jp-mod-root' : ''}${
          opens ? ' jp-mod-opens' : ''
        }${n.column < 0 ? ' jp-mod-upstream' : n.column > 0 ? ' jp-mod-downstream' : ''}`}
        data-dataset={n.key}
        data-table-id={n.tableId ?? undefined}
        transform={`translate(${n.x}, ${n.y})`}
        role={opens ? 'button' : 'img'}
        tabIndex={opens ? 0 : undefined}
        aria-label={title}
        onClick={open}
        onKeyDown={event => {
          if (opens && (event.key === 'Enter' || event.key === ' ')) {
            event.preventDefault();
            open();
          }
        }}
      >
        <title>{title}</title>
        <rect
          width={LINEAGE_NODE_WIDTH}
          height={LINEAGE_NODE_HEIGHT}
          rx={5}
          ry={5}
        />
        <text x={8} y={15} className="jp-WorkbenchLineage-name">
          {shorten(n.dataset.name, NAME_CHARS)}
        </text>
        <text x={8} y={29} className="jp-WorkbenchLineage-where">
          {shorten(n.dataset.namespace, NAME_CHARS + 4)}
        </text>
      </g>
    );
  };
  return (
    <div className="jp-WorkbenchLineage">
      <svg
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="group"
        aria-label={trans.__(
          'Lineage graph: upstream on the left, downstream on the right'
        )}
      >
        <defs>
          <ArrowMarker id={markerId} className="jp-WorkbenchLineage-arrow" />
        </defs>
        {layout.links.map(link => {
          const [[x1, y1], [x2, y2]] = link.points;
          const bend = Math.max(24, Math.abs(x2 - x1) / 2);
          return (
            <path
              key={`${link.from}->${link.to}`}
              className="jp-WorkbenchLineage-edge"
              d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
              markerEnd={`url(#${markerId})`}
            />
          );
        })}
        {layout.nodes.map(node)}
        {layout.hidden.map(more => (
          <text
            key={`more:${more.column}`}
            className="jp-WorkbenchLineage-more"
            x={more.x + 8}
            y={more.y + 20}
          >
            {trans.__('+%1 more (listed below)', more.count)}
          </text>
        ))}
      </svg>
    </div>
  );
}
