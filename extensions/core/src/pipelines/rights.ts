/**
 * What the pipeline view offers a user, from the rights the server states
 * for them (`PipelineOut.may_operate`). The server checks every action
 * anyway; this keeps viewers from being offered buttons that only fail.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { IPipeline } from './tokens';

/**
 * Whether the user may start, cancel and repair runs of a pipeline. Nothing
 * is offered before the pipeline is loaded; an older server that does not
 * say gets the buttons, and decides.
 */
export function mayOperate(pipeline: IPipeline | null): boolean {
  return pipeline !== null && pipeline.may_operate !== false;
}

/**
 * Why a viewer sees no Run now, Cancel run or Repair run, and whom to ask;
 * null for those who may operate the pipeline (or before it is loaded).
 */
export function viewOnlyNote(
  pipeline: IPipeline | null,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string | null {
  if (pipeline === null || mayOperate(pipeline)) {
    return null;
  }
  return trans.__(
    'View only: to run, cancel or repair runs, ask %1 to add one of your groups to its access.operators.',
    pipeline.owner
  );
}
