import * as React from 'react';

/**
 * An arrowhead for the edges of a small SVG graph (``markerEnd={`url(#${id})`}``),
 * filled as its class says.
 */
export function ArrowMarker(props: {
  id: string;
  className: string;
}): JSX.Element {
  return (
    <marker
      id={props.id}
      viewBox="0 0 10 10"
      refX="10"
      refY="5"
      markerWidth="6"
      markerHeight="6"
      orient="auto-start-reverse"
    >
      <path d="M 0 0 L 10 5 L 0 10 z" className={props.className} />
    </marker>
  );
}
