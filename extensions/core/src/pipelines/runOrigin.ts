/**
 * Who started a run and who cancelled it, as the runs table says it, from
 * `RunOut.requested_by`, `trigger`, `repair_of` and `cancelled_by`.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { shortRunId } from './format';
import { IRun } from './tokens';

/**
 * Who started a run, for the runs table: `who` is a user or `schedule`,
 * `detail` what kind of start it was when that is not plain (a repair).
 */
export interface IRunOrigin {
  who: string;
  detail: string | null;
}

/**
 * Who started a run: the user for a manual run, `schedule` for a schedule
 * firing, and for a repair the user who repaired it with `repair of <id>`.
 */
export function runOrigin(
  run: IRun,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IRunOrigin {
  const who = run.requested_by || null;
  switch (run.trigger) {
    case 'manual':
      return { who: who ?? trans.__('manual'), detail: null };
    case 'schedule': // started as the account `scheduler`, also by Trigger now
      return { who: trans.__('schedule'), detail: null };
    case 'repair': {
      const what = run.repair_of
        ? trans.__('repair of %1', shortRunId(run.repair_of))
        : trans.__('repair');
      return who ? { who, detail: what } : { who: what, detail: null };
    }
    default:
      // A kind of start this version does not know: say it as the server does.
      return who
        ? { who, detail: run.trigger }
        : { who: run.trigger, detail: null };
  }
}

/**
 * A run's origin in one line (for tooltips and narrow places).
 */
export function runOriginText(
  run: IRun,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  const { who, detail } = runOrigin(run, trans);
  return detail ? `${who} · ${detail}` : who;
}

/**
 * Who cancelled a run (`cancelled by carol`), or asked to while it has not
 * stopped yet or finished anyway; null when nobody did.
 */
export function runCancellation(
  run: IRun,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string | null {
  if (!run.cancelled_by) {
    return null;
  }
  return run.status === 'cancelled'
    ? trans.__('cancelled by %1', run.cancelled_by)
    : trans.__('cancel asked by %1', run.cancelled_by);
}
