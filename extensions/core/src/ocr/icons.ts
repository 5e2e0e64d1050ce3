import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A receipt. `jp-icon3` makes JupyterLab colour it from the theme.
 */
const RECEIPT_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M5 2v20l2-1.5L9 22l2-1.5 2 1.5 2-1.5 2 1.5 2-1.5V2l-2 1.5L15 2l-2 1.5L11 2 9 3.5 7 2zm3 6h8v2H8zm0 4h8v2H8zm0 4h5v2H8z"/>
  </g>
</svg>`;

/**
 * Icon of the receipts review.
 */
export const receiptIcon = new LabIcon({
  name: 'workbench:receipts',
  svgstr: RECEIPT_SVG
});
