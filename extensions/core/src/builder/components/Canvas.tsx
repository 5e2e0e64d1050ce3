import type { Drag } from '@lumino/dragdrop';
import {
  applyNodeChanges,
  Background,
  Connection,
  Controls,
  Edge,
  EdgeChange,
  getViewportForBounds,
  MarkerType,
  MiniMap,
  NodeChange,
  ReactFlow,
  useReactFlow
} from '@xyflow/react';
import * as React from 'react';

import { IPoint, NODE_HEIGHT, NODE_WIDTH } from '../layout';
import { IGraphEdge } from '../spec';
import { IStepNodeData, StepNode, StepNodeType } from './StepNode';

/**
 * What the file browser puts in a drag: the paths of the dragged items.
 */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';

/**
 * What a palette item puts in an HTML drag: the step kind.
 */
export const KIND_MIME = 'application/x-workbench-step-kind';

const NODE_TYPES = { step: StepNode };

/**
 * Fit the view to the steps, but never larger than their real size.
 */
const FIT_VIEW = { maxZoom: 1, padding: 0.1 };

const MIN_ZOOM = 0.05;

/**
 * The minimap's size: an overview, small beside the steps themselves.
 */
const MINIMAP_SIZE = { width: 144, height: 96 };

/**
 * A node to draw: its data and where it goes.
 */
export interface ICanvasNode {
  /**
   * Unique on the canvas (a step's id, or `#index` for a repeated id).
   */
  key: string;
  data: IStepNodeData;
  position: IPoint;
}

/**
 * Properties of the canvas.
 */
export interface ICanvasProps {
  nodes: ICanvasNode[];
  edges: IGraphEdge[];
  /**
   * Node keys and edge ids (`source->target`) selected.
   */
  selected: ReadonlySet<string>;
  /**
   * Changes whenever the layout is redone, to fit the view to it.
   */
  fitKey: number;
  label: string;
  onSelect: (selected: Set<string>) => void;
  onMoved: (key: string, position: IPoint) => void;
  onConnect: (source: string, target: string) => void;
  canConnect: (source: string, target: string) => boolean;
  onDelete: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onCopy: () => string;
  onPaste: (text: string, at: IPoint | null) => void;
  onDropNotebooks: (paths: string[], at: IPoint) => void;
  onDropKind: (kind: string, at: IPoint) => void;
}

/**
 * The pipeline's steps on a pannable, zoomable canvas with a minimap: drag
 * between ports to connect, Delete to remove, Ctrl+Z/Ctrl+Shift+Z to undo
 * and redo, Ctrl+A, Ctrl+C, Ctrl+X and Ctrl+V on steps; notebooks dropped
 * from the file browser and kinds from the palette become steps.
 */
export function Canvas(props: ICanvasProps): JSX.Element {
  const flow = useReactFlow();
  const wrapper = React.useRef<HTMLDivElement>(null);
  // The first render draws the steps already (no empty frame before them).
  const [nodes, setNodes] = React.useState<StepNodeType[]>(() =>
    toFlowNodes(props.nodes, props.selected, new Map())
  );
  const latest = React.useRef(props);
  latest.current = props;

  React.useEffect(() => {
    setNodes(previous =>
      toFlowNodes(
        props.nodes,
        props.selected,
        new Map(previous.map(n => [n.id, n]))
      )
    );
  }, [props.nodes, props.selected]);

  // Fit the view to the steps: their sizes are fixed, so the viewport follows
  // from the layout at once, without waiting for React Flow to measure them.
  // (An effect: React Flow's own, which set up its zoom, have run by then.)
  React.useEffect(() => {
    const node = wrapper.current;
    if (props.fitKey === 0 || !node || props.nodes.length === 0) {
      return;
    }
    const bounds = boundsOf(props.nodes);
    flow.setViewport(
      getViewportForBounds(
        bounds,
        node.clientWidth,
        node.clientHeight,
        MIN_ZOOM,
        FIT_VIEW.maxZoom,
        FIT_VIEW.padding
      )
    );
  }, [props.fitKey]);

  const edges = React.useMemo<Edge[]>(
    () =>
      props.edges.map(edge => {
        const id = `${edge.source}->${edge.target}`;
        return {
          id,
          source: edge.source,
          target: edge.target,
          selected: props.selected.has(id),
          className: 'jp-WorkbenchBuilder-edge',
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `${edge.source} → ${edge.target}`
        };
      }),
    [props.edges, props.selected]
  );

  const onNodesChange = React.useCallback(
    (changes: NodeChange<StepNodeType>[]) => {
      setNodes(current => {
        const next = applyNodeChanges(changes, current);
        if (changes.some(c => c.type === 'select')) {
          const selected = new Set(
            [...latest.current.selected].filter(k => k.includes('->'))
          );
          next.filter(n => n.selected).forEach(n => selected.add(n.id));
          queueMicrotask(() => latest.current.onSelect(selected));
        }
        return next;
      });
      for (const change of changes) {
        if (change.type === 'position' && change.dragging === false) {
          const moved = change.position;
          if (moved) {
            latest.current.onMoved(change.id, moved);
          }
        }
      }
    },
    []
  );

  const onEdgesChange = React.useCallback((changes: EdgeChange[]) => {
    const selected = new Set(latest.current.selected);
    let changed = false;
    for (const change of changes) {
      if (change.type === 'select') {
        changed = true;
        if (change.selected) {
          selected.add(change.id);
        } else {
          selected.delete(change.id);
        }
      }
    }
    if (changed) {
      latest.current.onSelect(selected);
    }
  }, []);

  const toFlow = (x: number, y: number): IPoint => {
    const point = flow.screenToFlowPosition({ x, y });
    return { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 };
  };

  // Lumino drags from the file browser.
  React.useEffect(() => {
    const node = wrapper.current;
    if (!node) {
      return;
    }
    const accept = (event: Event): void => {
      const drag = event as Drag.Event;
      if (!drag.mimeData?.hasData(CONTENTS_MIME)) {
        return;
      }
      drag.preventDefault();
      drag.stopPropagation();
      if (event.type === 'lm-drop') {
        drag.dropAction = drag.proposedAction;
        const paths = drag.mimeData.getData(CONTENTS_MIME) as string[];
        latest.current.onDropNotebooks(
          paths,
          toFlow(drag.clientX, drag.clientY)
        );
      } else {
        drag.dropAction = drag.proposedAction;
      }
    };
    const types = ['lm-dragenter', 'lm-dragover', 'lm-drop'];
    types.forEach(type => node.addEventListener(type, accept));
    return () => types.forEach(type => node.removeEventListener(type, accept));
  }, [flow]);

  const onKeyDown = (event: React.KeyboardEvent): void => {
    const target = event.target as HTMLElement;
    if (target.closest('input, textarea, select, [contenteditable="true"]')) {
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    let handled = true;
    if (event.key === 'Delete' || event.key === 'Backspace') {
      props.onDelete();
    } else if (mod && key === 'z' && !event.shiftKey) {
      props.onUndo();
    } else if (mod && (key === 'y' || (key === 'z' && event.shiftKey))) {
      props.onRedo();
    } else if (mod && key === 'a') {
      props.onSelect(new Set(props.nodes.map(n => n.key)));
    } else if (event.key === 'Escape') {
      props.onSelect(new Set());
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  const onCopy = (event: React.ClipboardEvent, cut: boolean): void => {
    if ((event.target as HTMLElement).closest('input, textarea')) {
      return;
    }
    const text = props.onCopy();
    if (text) {
      event.clipboardData.setData('text/plain', text);
      event.preventDefault();
      if (cut) {
        props.onDelete();
      }
    }
  };

  return (
    <div
      ref={wrapper}
      className="jp-WorkbenchBuilder-canvas"
      tabIndex={-1}
      aria-label={props.label}
      onKeyDown={onKeyDown}
      onCopy={event => onCopy(event, false)}
      onCut={event => onCopy(event, true)}
      onPaste={event => {
        if ((event.target as HTMLElement).closest('input, textarea')) {
          return;
        }
        event.preventDefault();
        props.onPaste(event.clipboardData.getData('text/plain'), null);
      }}
      onDragOver={event => {
        if (event.dataTransfer.types.includes(KIND_MIME)) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
        }
      }}
      onDrop={event => {
        const kind = event.dataTransfer.getData(KIND_MIME);
        if (kind) {
          event.preventDefault();
          props.onDropKind(kind, toFlow(event.clientX, event.clientY));
        }
      }}
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={(connection: Connection) =>
          props.onConnect(connection.source, connection.target)
        }
        isValidConnection={connection =>
          props.canConnect(connection.source, connection.target)
        }
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={['Meta', 'Control', 'Shift']}
        minZoom={MIN_ZOOM}
        maxZoom={2}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        <MiniMap
          pannable
          zoomable
          className="jp-WorkbenchBuilder-minimap"
          style={MINIMAP_SIZE}
          nodeClassName={node =>
            `jp-WorkbenchBuilder-miniNode ${(node.data as IStepNodeData).problems.length ? 'jp-mod-invalid' : ''}`
          }
        />
      </ReactFlow>
    </div>
  );
}

/**
 * React Flow's nodes for the steps, keeping where a step being dragged is and
 * what React Flow measured.
 */
function toFlowNodes(
  nodes: ICanvasNode[],
  selected: ReadonlySet<string>,
  before: Map<string, StepNodeType>
): StepNodeType[] {
  return nodes.map(node => {
    const old = before.get(node.key);
    const dragging = old?.dragging;
    return {
      id: node.key,
      type: 'step',
      position: dragging ? old!.position : node.position,
      data: node.data,
      selected: selected.has(node.key),
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      measured: old?.measured,
      dragging
    };
  });
}

/**
 * The rectangle the steps take on the canvas.
 */
function boundsOf(nodes: ICanvasNode[]): {
  x: number;
  y: number;
  width: number;
  height: number;
} {
  const xs = nodes.map(n => n.position.x);
  const ys = nodes.map(n => n.position.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return {
    x,
    y,
    width: Math.max(...xs) + NODE_WIDTH - x,
    height: Math.max(...ys) + NODE_HEIGHT - y
  };
}
