/**
 * What the canvas does to a pipeline, as edits of its YAML text: add,
 * remove, connect, disconnect, rename and paste steps. Each returns the edits
 * against one parse of the text (empty when there is nothing to do).
 */
import { parse, stringify } from 'yaml';

import { graphSteps, IGraphStep, uniqueId, wouldCycle } from './spec';
import { ITextEdit, mergeEdits, YamlText } from './yamlEdit';
import { isObject, Value } from './yamlRender';

/**
 * The steps of the text's spec.
 */
export function stepsOf(source: YamlText): IGraphStep[] {
  return graphSteps(source.value);
}

function indexOf(source: YamlText, id: string): number {
  return stepsOf(source).findIndex(s => s.id === id);
}

/**
 * Add steps at the end of `steps`.
 */
export function addSteps(
  source: YamlText,
  steps: { [key: string]: Value }[]
): ITextEdit[] {
  if (steps.length === 0) {
    return [];
  }
  const spec = source.value;
  const current =
    isObject(spec) && Array.isArray(spec.steps) ? spec.steps : null;
  if (!current || current.length === 0) {
    return source.set(['steps'], steps);
  }
  // One edit for all: appended one after the other at the list's end.
  const edits: ITextEdit[] = [];
  for (const step of steps) {
    edits.push(...source.append(['steps'], step));
  }
  return mergeEdits(edits);
}

/**
 * Remove steps, and their ids from the `depends_on` of the others.
 */
export function removeSteps(source: YamlText, ids: string[]): ITextEdit[] {
  const gone = new Set(ids);
  const steps = stepsOf(source);
  const edits: ITextEdit[] = [];
  for (const step of steps) {
    if (gone.has(step.id)) {
      edits.push(...source.remove(['steps', step.index]));
    } else if (step.dependsOn.some(d => gone.has(d))) {
      const kept = step.dependsOn.filter(d => !gone.has(d));
      edits.push(
        ...source.set(
          ['steps', step.index, 'depends_on'],
          kept.length ? kept : undefined
        )
      );
    }
  }
  if (steps.length > 0 && steps.every(s => gone.has(s.id))) {
    return source.set(['steps'], []);
  }
  return mergeEdits(edits);
}

/**
 * Make `to` wait for `from`; nothing when it already does, or when it would
 * close a cycle.
 */
export function connect(
  source: YamlText,
  from: string,
  to: string
): ITextEdit[] {
  const steps = stepsOf(source);
  const target = steps.find(s => s.id === to);
  if (
    !target ||
    !steps.some(s => s.id === from) ||
    target.dependsOn.includes(from) ||
    wouldCycle(steps, from, to)
  ) {
    return [];
  }
  return source.set(
    ['steps', target.index, 'depends_on'],
    [...target.dependsOn, from]
  );
}

/**
 * Stop `to` waiting for `from`.
 */
export function disconnect(
  source: YamlText,
  from: string,
  to: string
): ITextEdit[] {
  const target = stepsOf(source).find(s => s.id === to);
  if (!target || !target.dependsOn.includes(from)) {
    return [];
  }
  const kept = target.dependsOn.filter(d => d !== from);
  return source.set(
    ['steps', target.index, 'depends_on'],
    kept.length ? kept : undefined
  );
}

/**
 * Give a step a new id, and the steps that wait for it the new name.
 */
export function renameStep(
  source: YamlText,
  from: string,
  to: string
): ITextEdit[] {
  const steps = stepsOf(source);
  const step = steps.find(s => s.id === from);
  if (!step || from === to) {
    return [];
  }
  const edits = source.set(['steps', step.index, 'id'], to);
  for (const other of steps) {
    if (other.dependsOn.includes(from)) {
      edits.push(
        ...source.set(
          ['steps', other.index, 'depends_on'],
          other.dependsOn.map(d => (d === from ? to : d))
        )
      );
    }
  }
  return mergeEdits(edits);
}

/**
 * Steps as the clipboard holds them: a YAML list of step mappings.
 */
export function copySteps(source: YamlText, ids: string[]): string {
  const spec = source.value;
  const steps =
    isObject(spec) && Array.isArray(spec.steps) ? spec.steps : ([] as Value[]);
  const wanted = new Set(ids);
  const copied = steps.filter(s => isObject(s) && wanted.has(String(s.id)));
  return copied.length ? stringify(copied, { lineWidth: 0 }) : '';
}

/**
 * The steps of clipboard text, or null when it holds none.
 */
export function readCopiedSteps(
  text: string
): { [key: string]: Value }[] | null {
  let value: unknown;
  try {
    value = parse(text, { logLevel: 'silent' });
  } catch {
    return null;
  }
  if (isObject(value) && Array.isArray(value.steps)) {
    value = value.steps;
  } else if (isObject(value) && typeof value.id === 'string') {
    value = [value];
  }
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every(s => isObject(s) && typeof s.id === 'string')
  ) {
    return null;
  }
  return value as { [key: string]: Value }[];
}

/**
 * Paste copied steps: ids already taken get a suffix, dependencies among the
 * pasted steps follow their new ids, dependencies on steps this pipeline has
 * stay, others go. Resolves with the edits and the new ids.
 */
export function pasteSteps(
  source: YamlText,
  copied: { [key: string]: Value }[]
): { edits: ITextEdit[]; ids: string[] } {
  const existing = stepsOf(source).map(s => s.id);
  const taken = new Set(existing);
  const renamed = new Map<string, string>();
  for (const step of copied) {
    const id = uniqueId(String(step.id), taken);
    taken.add(id);
    renamed.set(String(step.id), id);
  }
  const steps = copied.map(step => {
    const copy: { [key: string]: Value } = {
      ...step,
      id: renamed.get(String(step.id))!
    };
    if (Array.isArray(step.depends_on)) {
      const deps = step.depends_on
        .map(d => renamed.get(String(d)) ?? String(d))
        .filter(d => taken.has(d) && d !== copy.id);
      if (deps.length) {
        copy.depends_on = deps;
      } else {
        delete copy.depends_on;
      }
    }
    return copy;
  });
  return { edits: addSteps(source, steps), ids: steps.map(s => String(s.id)) };
}

/**
 * Whether a step with `id` exists.
 */
export function hasStep(source: YamlText, id: string): boolean {
  return indexOf(source, id) >= 0;
}
