/**
 * Validating and deploying a pipeline file from JupyterLab: what to say about
 * the server's answer. The commands that call the server are in
 * `fileCommands.ts`; these functions only turn answers into sentences.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { APIError } from '../request';
import { TRANSLATION_DOMAIN } from '../tokens';
import { IDeployment, ISpecError, IValidation } from './tokens';

/**
 * The problems of a pipeline file the server refused to deploy (HTTP 400 with
 * `errors`, each with its line); null for any other failure, whose message
 * says it all.
 */
export function specErrorsOf(error: unknown): ISpecError[] | null {
  if (!(error instanceof APIError) || error.status !== 400) {
    return null;
  }
  const body = error.body as { errors?: unknown } | null;
  if (!body || typeof body !== 'object' || !Array.isArray(body.errors)) {
    return null;
  }
  const errors = body.errors.filter(
    (e): e is ISpecError =>
      typeof e === 'object' && e !== null && typeof e.message === 'string'
  );
  return errors.length > 0 ? errors : null;
}

/**
 * One problem as a line of text: `line 3: steps[0].notebook: message`; a
 * problem about the whole file has no line.
 */
export function specErrorText(
  error: ISpecError,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  const parts: string[] = [];
  if (typeof error.line === 'number') {
    parts.push(trans.__('line %1', error.line));
  }
  if (error.path) {
    parts.push(error.path);
  }
  parts.push(error.message);
  return parts.join(': ');
}

/**
 * The problems in the order of the file: by line, those without one first
 * (they are about the file as a whole).
 */
export function sortedErrors(errors: ISpecError[]): ISpecError[] {
  return [...errors].sort(
    (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)
  );
}

/**
 * What a check found, in one line: valid, or how many problems.
 */
export function validationSummary(
  file: string,
  validation: IValidation,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  if (validation.valid && validation.errors.length === 0) {
    return trans.__('%1 is a valid pipeline.', file);
  }
  return trans._n(
    '%2 has %1 problem.',
    '%2 has %1 problems.',
    validation.errors.length,
    file
  );
}

/**
 * What a deploy did: the new version, or that the content was unchanged.
 */
export function deploymentSummary(
  deployment: IDeployment,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  return deployment.new_version
    ? trans.__(
        'Deployed pipeline %1: version %2.',
        deployment.name,
        deployment.version
      )
    : trans.__(
        'Pipeline %1 unchanged, still version %2.',
        deployment.name,
        deployment.version
      );
}
