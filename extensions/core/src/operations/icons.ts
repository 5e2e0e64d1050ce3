import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A gauge. `jp-icon3` makes JupyterLab colour it from the theme.
 */
const OPERATIONS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 4a10 10 0 0 0-10 10c0 2.1.65 4.05 1.76 5.66l1.65-1.13A8 8 0 0 1 4 14a8 8 0 0 1 16 0 8 8 0 0 1-1.41 4.53l1.65 1.13A10 10 0 0 0 22 14 10 10 0 0 0 12 4zm4.95 4.64-5.66 4.95a1.6 1.6 0 1 0 2.12 2.12l4.95-5.66z"/>
  </g>
</svg>`;

/**
 * Icon of the Operations view.
 */
export const operationsIcon = new LabIcon({
  name: 'workbench:operations',
  svgstr: OPERATIONS_SVG
});
