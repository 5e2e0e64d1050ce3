import * as React from 'react';

import { IGraphStep, wouldCycle } from '../spec';
import { Path } from '../yamlEdit';
import { isObject, Value } from '../yamlRender';
import { DraftInput } from './fields';
import { IFormContext, problemsAt, SchemaFields } from './SchemaForm';

/**
 * Properties of the panel.
 */
export interface IPropertiesProps {
  context: IFormContext;
  spec: Value;
  steps: IGraphStep[];
  /**
   * The selected step (by index), if exactly one is.
   */
  step: IGraphStep | null;
  /**
   * How many steps and edges are selected.
   */
  selectedCount: number;
  onRename: (from: string, to: string) => void;
  onToggleDependency: (step: string, on: string, waits: boolean) => void;
  onDelete: () => void;
}

/**
 * The properties of the selected step, or of the pipeline when no step is
 * selected: fields made from the server's schema, each with its messages.
 */
export function Properties(props: IPropertiesProps): JSX.Element {
  const { context, spec, step } = props;
  const { trans, schema } = context;
  if (props.selectedCount > 1 || (props.selectedCount === 1 && !step)) {
    return (
      <div className="jp-WorkbenchBuilder-properties">
        <h2 className="jp-WorkbenchBuilder-heading">
          {trans._n(
            '%1 item selected',
            '%1 items selected',
            props.selectedCount
          )}
        </h2>
        <button className="jp-mod-styled jp-mod-warn" onClick={props.onDelete}>
          {trans.__('Delete')}
        </button>
      </div>
    );
  }
  if (!step) {
    const fields = schema.fields(schema.raw, ['steps']);
    return (
      <div
        className="jp-WorkbenchBuilder-properties"
        data-properties="pipeline"
      >
        <h2 className="jp-WorkbenchBuilder-heading">{trans.__('Pipeline')}</h2>
        <SchemaFields
          context={context}
          fields={fields}
          value={spec}
          path={[]}
        />
      </div>
    );
  }
  const steps = isObject(spec) && Array.isArray(spec.steps) ? spec.steps : [];
  const value = steps[step.index];
  const path: Path = ['steps', step.index];
  const kindSchema = schema.stepSchema(step.kind);
  const fields = schema.fields(kindSchema, ['id', 'kind', 'depends_on']);
  const idProblems = problemsAt(context.problems, [...path, 'id']);
  const depProblems = problemsAt(context.problems, [...path, 'depends_on']);
  const others = props.steps.filter(s => s.id !== step.id && s.id);
  const stepProblems = context.problems.get(path.join('.')) ?? [];
  return (
    <div
      className="jp-WorkbenchBuilder-properties"
      data-properties="step"
      data-step={step.id}
    >
      <h2 className="jp-WorkbenchBuilder-heading">
        {trans.__('Step %1', step.id)}
        <span className="jp-WorkbenchBuilder-kindBadge">{step.kind}</span>
      </h2>
      {kindSchema.description && (
        <div className="jp-WorkbenchBuilder-help">{kindSchema.description}</div>
      )}
      {stepProblems.map((message, index) => (
        <div key={index} className="jp-WorkbenchBuilder-problem" role="alert">
          {message}
        </div>
      ))}
      <div
        className={`jp-WorkbenchBuilder-field${idProblems.length ? ' jp-mod-invalid' : ''}`}
        data-field={[...path, 'id'].join('.')}
      >
        <label
          className="jp-WorkbenchBuilder-label"
          htmlFor="jp-WorkbenchBuilder-stepId"
        >
          {trans.__('Id')}
          <span className="jp-WorkbenchBuilder-required"> *</span>
        </label>
        <DraftInput
          id="jp-WorkbenchBuilder-stepId"
          value={step.id}
          commit="blur"
          invalid={idProblems.length > 0}
          onText={text => props.onRename(step.id, text.trim())}
        />
        <div className="jp-WorkbenchBuilder-help">
          {trans.__('Renaming updates the steps that wait for it.')}
        </div>
        {idProblems.map((message, index) => (
          <div key={index} className="jp-WorkbenchBuilder-problem" role="alert">
            {message}
          </div>
        ))}
      </div>
      <fieldset
        className={`jp-WorkbenchBuilder-field jp-WorkbenchBuilder-deps${depProblems.length ? ' jp-mod-invalid' : ''}`}
        data-field={[...path, 'depends_on'].join('.')}
      >
        <legend className="jp-WorkbenchBuilder-label">
          {trans.__('Waits for')}
        </legend>
        {others.length === 0 && (
          <div className="jp-WorkbenchBuilder-help">
            {trans.__('No other step yet.')}
          </div>
        )}
        {others.map(other => {
          const waits = step.dependsOn.includes(other.id);
          // A step that waits for this one, directly or not, cannot be waited for.
          const cycle = !waits && wouldCycle(props.steps, other.id, step.id);
          return (
            <label
              key={other.index}
              className="jp-WorkbenchBuilder-dep"
              title={
                cycle
                  ? trans.__('%1 waits for %2 already', other.id, step.id)
                  : undefined
              }
            >
              <input
                type="checkbox"
                checked={waits}
                disabled={cycle}
                onChange={event =>
                  props.onToggleDependency(
                    step.id,
                    other.id,
                    event.currentTarget.checked
                  )
                }
              />{' '}
              {other.id}
            </label>
          );
        })}
        {depProblems.map((message, index) => (
          <div key={index} className="jp-WorkbenchBuilder-problem" role="alert">
            {message}
          </div>
        ))}
      </fieldset>
      <SchemaFields
        context={context}
        fields={fields}
        value={value}
        path={path}
      />
      <button
        className="jp-mod-styled jp-mod-warn jp-WorkbenchBuilder-delete"
        onClick={props.onDelete}
      >
        {trans.__('Delete step')}
      </button>
    </div>
  );
}
