/**
 * What the workbench's sidebar panels share: their header (title and
 * toolbar buttons) and how they are set up in the sidebar (id, icon,
 * caption, class).
 */
import {
  LabIcon,
  ReactWidget,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

/**
 * A toolbar button of a panel's header.
 */
export interface IPanelAction {
  icon: LabIcon;
  /**
   * Its tooltip and accessible name.
   */
  tooltip: string;
  onClick: () => void;
  className?: string;
  enabled?: boolean;
}

/**
 * A sidebar panel's header: its title in JupyterLab's sidebar style and its
 * toolbar buttons.
 */
export function PanelHeader(props: {
  title: string;
  actions: IPanelAction[];
}): JSX.Element {
  return (
    <div className="jp-WorkbenchPanel-header">
      <h2 className="jp-WorkbenchPanel-title">{props.title}</h2>
      <div className="jp-WorkbenchPanel-toolbar">
        {props.actions.map(action => (
          <ToolbarButtonComponent
            key={action.tooltip}
            icon={action.icon}
            className={action.className}
            tooltip={action.tooltip}
            enabled={action.enabled ?? true}
            onClick={action.onClick}
          />
        ))}
      </div>
    </div>
  );
}

/**
 * Give a widget what a sidebar panel has: its id (for the layout restorer
 * and `activateById`), icon, caption and CSS classes.
 */
export function setUpSidebarPanel(
  widget: ReactWidget,
  options: { id: string; icon: LabIcon; caption: string; className: string }
): void {
  widget.id = options.id;
  widget.title.icon = options.icon;
  widget.title.caption = options.caption;
  widget.addClass('jp-WorkbenchPanel');
  widget.addClass(options.className);
}
