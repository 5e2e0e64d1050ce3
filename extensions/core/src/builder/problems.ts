/**
 * The server's validation messages placed on the canvas: by field path for
 * the properties panel, by step for the nodes.
 */
import { isSeq, Node } from 'yaml';

import { IProblem, problemText } from '../pipelines/yaml';
import { parseErrorPath, stepIndexOf } from './spec';
import { YamlText } from './yamlEdit';

/**
 * Messages by field path (`steps.2.timeout`) and by step index.
 */
export interface IPlacedProblems {
  byPath: Map<string, string[]>;
  byStep: Map<number, string[]>;
}

/**
 * Place problems: a message with a path goes to that path (and its step); one
 * with only a line goes to the step whose text holds that line.
 */
export function placeOnGraph(
  problems: IProblem[],
  source: YamlText
): IPlacedProblems {
  const byPath = new Map<string, string[]>();
  const byStep = new Map<number, string[]>();
  const add = <K>(map: Map<K, string[]>, key: K, message: string): void => {
    map.set(key, [...(map.get(key) ?? []), message]);
  };
  const lines = stepLines(source);
  for (const problem of problems) {
    const path = problem.path ? parseErrorPath(problem.path) : [];
    let step = stepIndexOf(path);
    if (step === null && problem.line !== null) {
      const found = lines.findIndex(
        ([from, to]) => problem.line! >= from && problem.line! <= to
      );
      step = found >= 0 ? found : null;
    }
    if (path.length > 0) {
      add(byPath, path.join('.'), problem.message);
    }
    if (step !== null) {
      add(byStep, step, problemText(problem));
    }
  }
  return { byPath, byStep };
}

/**
 * First and last line (from 1) of each step's text.
 */
export function stepLines(source: YamlText): [number, number][] {
  const steps = source.node(['steps']);
  if (!steps || !isSeq(steps)) {
    return [];
  }
  const starts: number[] = [0];
  for (let i = 0; i < source.text.length; i++) {
    if (source.text.charCodeAt(i) === 10) {
      starts.push(i + 1);
    }
  }
  const lineOf = (offset: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid] <= offset) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low + 1;
  };
  return (steps.items as (Node | null)[]).map(item => {
    const range = item?.range ?? [0, 0, 0];
    return [lineOf(range[0]), lineOf(Math.max(range[1] - 1, range[0]))];
  });
}
