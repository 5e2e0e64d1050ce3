/**
 * Which YAML files are pipelines, and where the server's validation errors
 * sit in the text being edited.
 */
import { ISpecError } from './tokens';

/**
 * Quiet time after the last keystroke before the text is checked, in ms.
 */
export const VALIDATE_DELAY = 600;

/**
 * Whether a path names a YAML file.
 */
export function isYamlPath(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

/**
 * Whether a YAML file is a pipeline spec: named `pipeline.yaml` or
 * `NAME.pipeline.yaml`, pointing at the pipeline JSON Schema (as the shipped
 * templates do), or with the two keys every pipeline has at its top level,
 * `name` and `steps`.
 */
export function isPipelineYaml(path: string, text: string): boolean {
  if (!isYamlPath(path)) {
    return false;
  }
  if (/(^|\/)([^/]*\.)?pipeline\.ya?ml$/i.test(path)) {
    return true;
  }
  if (/\$schema=\S*pipeline\.schema\.json/.test(text)) {
    return true;
  }
  return /^steps[ \t]*:/m.test(text) && /^name[ \t]*:/m.test(text);
}

/**
 * A validation error placed in the text: `line` counts from 1 and is within
 * the text; `from` and `to` are the columns (from 0) to underline. Errors
 * the server could not place (`line` null) are about the whole file.
 */
export interface IProblem {
  line: number | null;
  from: number;
  to: number;
  path: string;
  message: string;
}

/**
 * Place the server's errors in `text`: lines past the end go to the last
 * line, and the underline runs from the error's column to the end of its
 * line (the whole line when the column is past it).
 */
export function placeProblems(errors: ISpecError[], text: string): IProblem[] {
  const lines = text.split('\n');
  return errors.map(error => {
    if (error.line === null || error.line === undefined) {
      return {
        line: null,
        from: 0,
        to: 0,
        path: error.path,
        message: error.message
      };
    }
    const line = Math.min(Math.max(error.line, 1), lines.length);
    const content = lines[line - 1].replace(/\r$/, '');
    let from = Math.max((error.column ?? 1) - 1, 0);
    if (from >= content.length) {
      from = content.length - content.replace(/^\s+/, '').length;
    }
    return {
      line,
      from,
      to: content.length,
      path: error.path,
      message: error.message
    };
  });
}

/**
 * One line of the problem list: `steps[0].notebook: message`.
 */
export function problemText(problem: IProblem): string {
  return problem.path ? `${problem.path}: ${problem.message}` : problem.message;
}
