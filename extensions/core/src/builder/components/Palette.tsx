import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IStepKind } from '../schema';
import { KIND_MIME } from './Canvas';

/**
 * Properties of the palette.
 */
export interface IPaletteProps {
  kinds: IStepKind[];
  trans: TranslationBundle;
  /**
   * Add a step of a kind where the view is (click, Enter or Space).
   */
  onAdd: (kind: string) => void;
}

/**
 * Every step kind the server knows, to drag onto the canvas or add with a
 * click or the keyboard; notebooks can also come from the file browser.
 */
export function Palette(props: IPaletteProps): JSX.Element {
  const { trans } = props;
  return (
    <div className="jp-WorkbenchBuilder-palette" role="list">
      <div className="jp-WorkbenchBuilder-paletteTitle">
        {trans.__('Steps')}
      </div>
      {props.kinds.map(kind => (
        <div
          key={kind.kind}
          role="listitem"
          className="jp-WorkbenchBuilder-paletteItem"
          data-kind={kind.kind}
          draggable
          tabIndex={0}
          title={trans.__(
            '%1\nDrag onto the canvas, or press Enter to add.',
            kind.description
          )}
          onDragStart={event => {
            event.dataTransfer.setData(KIND_MIME, kind.kind);
            event.dataTransfer.effectAllowed = 'copy';
          }}
          onClick={() => props.onAdd(kind.kind)}
          onKeyDown={event => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              props.onAdd(kind.kind);
            }
          }}
        >
          <span className="jp-WorkbenchBuilder-paletteKind">{kind.title}</span>
          <span className="jp-WorkbenchBuilder-paletteHelp">
            {kind.description}
          </span>
        </div>
      ))}
      <div className="jp-WorkbenchBuilder-paletteHint">
        {trans.__('Drop notebooks here from the file browser.')}
      </div>
    </div>
  );
}
