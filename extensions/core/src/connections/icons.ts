import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A plug. `jp-icon3` makes JupyterLab colour it from the theme.
 */
const CONNECTIONS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M16 7V3h-2v4h-4V3H8v4H7c-.6 0-1 .4-1 1v4.5c0 2.6 2 4.8 4.5 5V21h3v-3.5c2.5-.3 4.5-2.4 4.5-5V8c0-.6-.4-1-1-1h-1zm0 5.5c0 1.9-1.6 3.5-3.5 3.5h-1C9.6 16 8 14.4 8 12.5V9h8v3.5z"/>
  </g>
</svg>`;

/**
 * Icon of the connections dialog and of its button in the catalog panel.
 */
export const connectionsIcon = new LabIcon({
  name: 'workbench:connections',
  svgstr: CONNECTIONS_SVG
});
