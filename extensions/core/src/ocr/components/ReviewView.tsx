/**
 * The receipts review queue: each waiting document's image beside its fields,
 * editable, with Approve (the expense is made in Odoo) and Reject.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { messageOf } from '../../request';
import { OcrAPI } from '../api';
import { EDITABLE_FIELDS, EditableField, IOcrDocument } from '../tokens';

type Values = Record<EditableField, string>;

function valuesOf(doc: IOcrDocument): Values {
  const out = {} as Values;
  for (const name of EDITABLE_FIELDS) {
    out[name] = doc.fields[name] ?? '';
  }
  return out;
}

function errorText(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  return messageOf(body) ?? String((error as Error).message ?? error);
}

/**
 * One document: its file on the left, its fields on the right.
 */
function DocumentReview(props: {
  api: OcrAPI;
  trans: TranslationBundle;
  doc: IOcrDocument;
  onDone: (message: string) => void;
}): JSX.Element {
  const { api, trans, doc } = props;
  const [values, setValues] = React.useState<Values>(valuesOf(doc));
  const [odoo, setOdoo] = React.useState('');
  const [employee, setEmployee] = React.useState('');
  const [reason, setReason] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const isPdf = doc.filename.toLowerCase().endsWith('.pdf');

  const act = async (what: () => Promise<IOcrDocument>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      props.onDone(done);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const edits = (): Partial<Values> => {
    const changed: Partial<Values> = {};
    const before = valuesOf(doc);
    for (const name of EDITABLE_FIELDS) {
      if (values[name] !== before[name] && values[name] !== '') {
        changed[name] = values[name];
      }
    }
    return changed;
  };

  return (
    <div
      className="jp-WorkbenchReceipts-document"
      data-document={doc.document_id}
    >
      <div className="jp-WorkbenchReceipts-file">
        {isPdf ? (
          <a
            href={api.fileUrl(doc.document_id)}
            target="_blank"
            rel="noreferrer"
          >
            {trans.__('Open %1', doc.filename)}
          </a>
        ) : (
          <img src={api.fileUrl(doc.document_id)} alt={doc.filename} />
        )}
      </div>
      <form
        className="jp-WorkbenchReceipts-fields"
        onSubmit={e => e.preventDefault()}
      >
        <div className="jp-WorkbenchReceipts-name">{doc.filename}</div>
        <div className="jp-WorkbenchReceipts-reason">{doc.reason}</div>
        {EDITABLE_FIELDS.map(name => {
          const confidence = doc.fields.confidence[name] ?? 0;
          return (
            <label key={name} data-field={name}>
              <span>{name}</span>
              <input
                className="jp-mod-styled"
                name={name}
                value={values[name]}
                onChange={e => setValues({ ...values, [name]: e.target.value })}
              />
              <span
                className={
                  confidence < 0.9
                    ? 'jp-WorkbenchReceipts-confidence jp-mod-low'
                    : 'jp-WorkbenchReceipts-confidence'
                }
              >
                {Math.round(confidence * 100)}%
              </span>
            </label>
          );
        })}
        <label data-field="odoo">
          <span>{trans.__('Odoo connection')}</span>
          <input
            className="jp-mod-styled"
            name="odoo"
            value={odoo}
            onChange={e => setOdoo(e.target.value)}
          />
        </label>
        <label data-field="employee_id">
          <span>{trans.__('Employee id')}</span>
          <input
            className="jp-mod-styled"
            name="employee_id"
            value={employee}
            onChange={e => setEmployee(e.target.value)}
          />
        </label>
        <div className="jp-WorkbenchReceipts-actions">
          <Button
            disabled={busy || !odoo}
            onClick={() =>
              void act(
                () => api.approve(doc.document_id, odoo, employee, edits()),
                trans.__('%1 approved: the expense is in Odoo', doc.filename)
              )
            }
          >
            {trans.__('Approve')}
          </Button>
          <input
            className="jp-mod-styled"
            name="reason"
            placeholder={trans.__('Why reject?')}
            value={reason}
            onChange={e => setReason(e.target.value)}
          />
          <Button
            disabled={busy || !reason.trim()}
            onClick={() =>
              void act(
                () => api.reject(doc.document_id, reason),
                trans.__('%1 rejected', doc.filename)
              )
            }
          >
            {trans.__('Reject')}
          </Button>
        </div>
        {error && <div className="jp-WorkbenchReceipts-error">{error}</div>}
      </form>
    </div>
  );
}

/**
 * The whole queue, reloaded after each decision and on Refresh.
 */
function ReviewQueue(props: {
  api: OcrAPI;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, trans } = props;
  const [docs, setDocs] = React.useState<IOcrDocument[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);

  const load = React.useCallback(async () => {
    try {
      setDocs(await api.review());
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [api]);
  React.useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="jp-WorkbenchReceipts-queue">
      <div className="jp-WorkbenchReceipts-header">
        <h2>{trans.__('Receipts to review')}</h2>
        <Button onClick={() => void load()}>{trans.__('Refresh')}</Button>
      </div>
      {notice && <div className="jp-WorkbenchReceipts-notice">{notice}</div>}
      {error && (
        <div className="jp-WorkbenchReceipts-error">
          {trans.__('The review queue did not load: %1', error)}
        </div>
      )}
      {docs !== null && docs.length === 0 && (
        <div className="jp-WorkbenchReceipts-empty">
          {trans.__('Nothing waits for review.')}
        </div>
      )}
      {docs?.map(doc => (
        <DocumentReview
          key={doc.document_id}
          api={api}
          trans={trans}
          doc={doc}
          onDone={message => {
            setNotice(message);
            void load();
          }}
        />
      ))}
    </div>
  );
}

/**
 * The receipts review as a main-area widget.
 */
export class ReviewView extends ReactWidget {
  constructor(options: { api: OcrAPI; trans: TranslationBundle }) {
    super();
    this._api = options.api;
    this._trans = options.trans;
    this.addClass('jp-WorkbenchReceipts');
  }

  protected render(): JSX.Element {
    return <ReviewQueue api={this._api} trans={this._trans} />;
  }

  private _api: OcrAPI;
  private _trans: TranslationBundle;
}
