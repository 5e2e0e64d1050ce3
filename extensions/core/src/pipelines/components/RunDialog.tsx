/**
 * The run dialog: a field per declared parameter (typed, with its default
 * and description) and the logical date; JSON for advanced use, and for
 * pipelines that declare no parameters.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  FormValues,
  formValues,
  parseParameterForm,
  parseRunForm,
  ParsedRun
} from '../format';
import { IParameterSpec } from '../tokens';

/**
 * What the dialog holds while it is open and between its tries.
 */
interface IRunFormState {
  /**
   * The declared parameters' fields, as typed.
   */
  values: FormValues;
  /**
   * Whether the parameters are edited as JSON instead.
   */
  asJson: boolean;
  json: string;
  date: string;
  problem: string | null;
}

class RunForm extends ReactWidget implements Dialog.IBodyWidget<ParsedRun> {
  constructor(
    trans: TranslationBundle,
    declared: { [name: string]: IParameterSpec },
    state: IRunFormState
  ) {
    super();
    this._trans = trans;
    this._declared = declared;
    this.state = state;
    this.addClass('jp-WorkbenchRunForm');
  }

  /**
   * The fields as typed (kept after the dialog has closed).
   */
  readonly state: IRunFormState;

  getValue(): ParsedRun {
    const { state } = this;
    if (state.asJson || !this._hasDeclared) {
      return parseRunForm(state.json, state.date, this._declared);
    }
    const parsed = parseParameterForm(state.values, this._declared);
    if (!parsed.ok) {
      return parsed;
    }
    // The logical date is checked the same way in both modes.
    const withDate = parseRunForm('', state.date);
    return withDate.ok
      ? { ...withDate, parameters: parsed.parameters }
      : withDate;
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const { state } = this;
    const declared = Object.entries(this._declared);
    return (
      <>
        {declared.length > 0 && !state.asJson && (
          <div className="jp-WorkbenchRunForm-fields">
            {declared.map(([name, spec]) => (
              <ParameterField
                key={name}
                name={name}
                spec={spec}
                value={state.values[name]}
                trans={trans}
                onChange={value => {
                  state.values = { ...state.values, [name]: value };
                  this.update();
                }}
              />
            ))}
          </div>
        )}
        {(state.asJson || declared.length === 0) && (
          <label className="jp-WorkbenchRunForm-field">
            <span className="jp-WorkbenchRunForm-label">
              {declared.length === 0
                ? trans.__(
                    'Parameters (JSON object; this pipeline declares none)'
                  )
                : trans.__('Parameters (JSON object)')}
            </span>
            <textarea
              className="jp-mod-styled jp-WorkbenchRunForm-parameters"
              rows={8}
              spellCheck={false}
              value={state.json}
              onChange={event => {
                state.json = event.currentTarget.value;
                this.update();
              }}
            />
          </label>
        )}
        {declared.length > 0 && (
          <label className="jp-WorkbenchRunForm-toggle">
            <input
              type="checkbox"
              checked={state.asJson}
              onChange={event => this._toggleJson(event.currentTarget.checked)}
            />{' '}
            {trans.__('Edit as JSON (advanced)')}
          </label>
        )}
        <label className="jp-WorkbenchRunForm-field">
          <span className="jp-WorkbenchRunForm-label">
            {trans.__('Logical date (empty for today)')}
          </span>
          <input
            type="date"
            className="jp-mod-styled jp-WorkbenchRunForm-date"
            value={state.date}
            onChange={event => {
              state.date = event.currentTarget.value;
              this.update();
            }}
          />
        </label>
        {state.problem && (
          <div className="jp-WorkbenchRunForm-error" role="alert">
            {state.problem}
          </div>
        )}
      </>
    );
  }

  private get _hasDeclared(): boolean {
    return Object.keys(this._declared).length > 0;
  }

  /**
   * Switch between the fields and JSON, carrying the values across; a
   * switch back from JSON that does not parse stays in JSON and says why.
   */
  private _toggleJson(asJson: boolean): void {
    const { state } = this;
    if (asJson) {
      const parsed = parseParameterForm(state.values, this._declared);
      const parameters = parsed.ok ? parsed.parameters : state.values;
      state.json = JSON.stringify(parameters, null, 2);
      state.asJson = true;
      state.problem = null;
    } else {
      const parsed = parseRunForm(state.json, '');
      if (!parsed.ok) {
        state.problem = parsed.error;
      } else {
        state.values = formValues(this._declared, parsed.parameters);
        state.asJson = false;
        state.problem = null;
      }
    }
    this.update();
  }

  private _declared: { [name: string]: IParameterSpec };
  private _trans: TranslationBundle;
}

/**
 * One declared parameter: an input of its type, its description, and
 * whether it is required.
 */
function ParameterField(props: {
  name: string;
  spec: IParameterSpec;
  value: string | boolean | undefined;
  trans: TranslationBundle;
  onChange: (value: string | boolean) => void;
}): JSX.Element {
  const { name, spec, value, trans } = props;
  const id = `jp-WorkbenchRunForm-${name}`;
  const help = [
    spec.description,
    spec.default !== undefined && spec.default !== null && spec.default !== ''
      ? trans.__('default %1', String(spec.default))
      : ''
  ]
    .filter(Boolean)
    .join(' · ');
  if (spec.type === 'boolean') {
    return (
      <div className="jp-WorkbenchRunForm-field" data-parameter={name}>
        <label>
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            onChange={event => props.onChange(event.currentTarget.checked)}
          />{' '}
          {name}
        </label>
        {help && <div className="jp-WorkbenchRunForm-help">{help}</div>}
      </div>
    );
  }
  // Text for numbers: a number input the browser finds invalid disables the
  // dialog's Run button without a word; ours says what is wrong.
  const input = {
    integer: { type: 'text', inputMode: 'numeric' as const },
    number: { type: 'text', inputMode: 'decimal' as const },
    decimal: { type: 'text', inputMode: 'decimal' as const },
    date: { type: 'date' }
  }[spec.type] ?? { type: 'text' };
  return (
    <div className="jp-WorkbenchRunForm-field" data-parameter={name}>
      <label htmlFor={id} className="jp-WorkbenchRunForm-label">
        {name}
        {spec.required && (
          <span className="jp-WorkbenchRunForm-required"> *</span>
        )}{' '}
        <span className="jp-WorkbenchRunForm-type">{spec.type}</span>
      </label>
      <input
        id={id}
        className="jp-mod-styled"
        {...input}
        value={typeof value === 'string' ? value : ''}
        aria-required={spec.required}
        aria-describedby={help ? `${id}-help` : undefined}
        spellCheck={false}
        onChange={event => props.onChange(event.currentTarget.value)}
      />
      {help && (
        <div id={`${id}-help`} className="jp-WorkbenchRunForm-help">
          {help}
        </div>
      )}
    </div>
  );
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
  const specs = declared ?? {};
  let state: IRunFormState = {
    values: formValues(specs, initial),
    asJson: false,
    json: JSON.stringify(initial, null, 2),
    date: '',
    problem: null
  };
  for (;;) {
    const body = new RunForm(trans, specs, state);
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
    state = { ...body.state, problem: result.value.error };
  }
}
