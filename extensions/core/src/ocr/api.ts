/**
 * The endpoints the receipts review reads and acts on.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI, withQuery } from '../request';
import { EditableField, IOcrDocument } from './tokens';

/**
 * Typed calls to `/workbench/api/ocr`.
 */
export class OcrAPI {
  constructor(serverSettings: ServerConnection.ISettings) {
    this._settings = serverSettings;
  }

  /**
   * Documents waiting for a person (an admin sees all, others their own).
   */
  review(): Promise<IOcrDocument[]> {
    return requestAPI<IOcrDocument[]>('ocr/review', this._settings);
  }

  /**
   * Where the browser loads a document's file (an image or a PDF).
   */
  fileUrl(documentId: string): string {
    return URLExt.join(
      this._settings.baseUrl,
      'workbench/api/ocr/documents',
      documentId,
      'file'
    );
  }

  /**
   * Approve with the corrected fields: the expense is made in Odoo.
   */
  approve(
    documentId: string,
    odoo: string,
    employeeId: string,
    fields: Partial<Record<EditableField, string>>
  ): Promise<IOcrDocument> {
    return requestAPI<IOcrDocument>(
      withQuery(`ocr/documents/${documentId}/approve`, {
        odoo,
        employee_id: employeeId
      }),
      this._settings,
      { method: 'POST', body: JSON.stringify({ fields }) }
    );
  }

  /**
   * Reject: no expense is made.
   */
  reject(documentId: string, reason: string): Promise<IOcrDocument> {
    return requestAPI<IOcrDocument>(
      `ocr/documents/${documentId}/reject`,
      this._settings,
      { method: 'POST', body: JSON.stringify({ reason }) }
    );
  }

  private _settings: ServerConnection.ISettings;
}
