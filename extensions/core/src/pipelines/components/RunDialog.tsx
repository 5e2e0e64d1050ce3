import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { parseRunForm, ParsedRun } from '../format';
import { IParameterSpec } from '../tokens';

/**
 * The fields of the run dialog: parameters as a JSON object and the logical
 * date (uncontrolled inputs, read when the dialog closes).
 */
class RunForm extends ReactWidget implements Dialog.IBodyWidget<ParsedRun> {
  constructor(
    trans: TranslationBundle,
    parameters: string,
    logicalDate: string,
    declared: { [name: string]: IParameterSpec } | undefined,
    problem: string | null
  ) {
    super();
    this._trans = trans;
    this._declared = declared;
    this._problem = problem;
    this._typed = { parameters, date: logicalDate };
    this.addClass('jp-WorkbenchRunForm');
  }

  /**
   * The parameters as typed (kept after the dialog has closed).
   */
  get parametersText(): string {
    return this._params.current?.value ?? this._typed.parameters;
  }

  /**
   * The logical date as typed (kept after the dialog has closed).
   */
  get dateText(): string {
    return this._date.current?.value ?? this._typed.date;
  }

  getValue(): ParsedRun {
    this._typed = { parameters: this.parametersText, date: this.dateText };
    return parseRunForm(
      this._typed.parameters,
      this._typed.date,
      this._declared
    );
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    return (
      <>
        <label>
          {trans.__('Parameters (JSON object)')}
          <textarea
            ref={this._params}
            className="jp-mod-styled jp-WorkbenchRunForm-parameters"
            rows={8}
            spellCheck={false}
            defaultValue={this._typed.parameters}
          />
        </label>
        <label>
          {trans.__('Logical date (empty for today)')}
          <input
            ref={this._date}
            className="jp-mod-styled jp-WorkbenchRunForm-date"
            placeholder={trans.__('YYYY-MM-DD')}
            defaultValue={this._typed.date}
          />
        </label>
        {this._problem && (
          <div className="jp-WorkbenchRunForm-error" role="alert">
            {this._problem}
          </div>
        )}
      </>
    );
  }

  private _declared: { [name: string]: IParameterSpec } | undefined;
  private _problem: string | null;
  private _trans: TranslationBundle;
  private _typed: { parameters: string; date: string };
  private _date = React.createRef<HTMLInputElement>();
  private _params = React.createRef<HTMLTextAreaElement>();
}

/**
 * Ask for a run's parameters and logical date until they are valid or the
 * dialog is cancelled; null when cancelled.
 */
export async function askRunParameters(
  trans: TranslationBundle,
  pipeline: string,
  initial: { [name: string]: unknown },
  declared?: { [name: string]: IParameterSpec }
): Promise<{
  parameters: { [name: string]: unknown };
  logicalDate: string | null;
} | null> {
  let parameters = JSON.stringify(initial, null, 2);
  let logicalDate = '';
  let problem: string | null = null;
  for (;;) {
    const body: RunForm = new RunForm(
      trans,
      parameters,
      logicalDate,
      declared,
      problem
    );
    const result: Dialog.IResult<ParsedRun> = await showDialog<ParsedRun>({
      title: trans.__('Run %1', pipeline),
      body,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Run') })
      ]
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    if (result.value.ok) {
      return {
        parameters: result.value.parameters,
        logicalDate: result.value.logicalDate
      };
    }
    parameters = body.parametersText;
    logicalDate = body.dateText;
    problem = result.value.error;
  }
}
