/**
 * Interfaces mirroring the OCR flow's pydantic models
 * (`workbench_server.ocr.flow.Outcome`, `ocr.models.Extracted`).
 */

/**
 * The fields read off a receipt; money as exact decimal strings.
 */
export interface IExtracted {
  vendor: string | null;
  vat: string | null;
  date: string | null;
  total: string | null;
  taxes: string | null;
  currency: string | null;
  lines: { description: string; quantity: number; amount: string }[];
  /**
   * Per field, 0-1 (0 or absent: not found).
   */
  confidence: { [field: string]: number };
}

/**
 * What became of one document.
 */
export interface IOcrDocument {
  document_id: string;
  filename: string;
  status: 'created' | 'review' | 'rejected';
  reason: string | null;
  fields: IExtracted;
  partner_id: number | null;
  odoo_expense_id: number | null;
  odoo_attachment_id: number | null;
  uploaded_by: string | null;
  reviewed_by: string | null;
}

/**
 * The fields a reviewer may correct.
 */
export const EDITABLE_FIELDS = [
  'vendor',
  'vat',
  'date',
  'total',
  'taxes',
  'currency'
] as const;

export type EditableField = (typeof EDITABLE_FIELDS)[number];
