import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A database cylinder. `jp-icon3` makes JupyterLab colour it from the theme.
 */
const CATALOG_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.9 0 6 1.1 6 1s-2.1 1-6 1-6-1.1-6-1 2.1-1 6-1zm6 15c0 .1-2.1 1-6 1s-6-.9-6-1v-2.3c1.5.8 3.7 1.3 6 1.3s4.5-.5 6-1.3V19zm0-5c0 .1-2.1 1-6 1s-6-.9-6-1v-2.3c1.5.8 3.7 1.3 6 1.3s4.5-.5 6-1.3V14zm-6-4c-3.9 0-6-.9-6-1V7.7C7.5 8.5 9.7 9 12 9s4.5-.5 6-1.3V9c0 .1-2.1 1-6 1z"/>
  </g>
</svg>`;

/**
 * Icon of the catalog panel and table views.
 */
export const catalogIcon = new LabIcon({
  name: 'workbench:catalog',
  svgstr: CATALOG_SVG
});
