import { LabIcon } from '@jupyterlab/ui-components';

/**
 * Three connected steps. `jp-icon3` makes JupyterLab colour it from the theme.
 */
const PIPELINES_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 4h6v5H3zM15 4h6v5h-6zM9 15h6v5H9zM9 6h6v1.2H9zM5.4 9h1.2v3.4h5.4V15h-1.2v-1.4H5.4zM17.4 9h1.2v4.6H13V15h-1.2v-2.6h5.6z"/>
  </g>
</svg>`;

/**
 * Icon of the pipelines panel and pipeline views.
 */
export const pipelinesIcon = new LabIcon({
  name: 'workbench:pipelines',
  svgstr: PIPELINES_SVG
});
