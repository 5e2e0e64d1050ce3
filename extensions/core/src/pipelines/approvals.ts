/**
 * How the pipeline view speaks of a run's approval gates.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../tokens';
import { formatTime } from './format';
import { IApproval } from './tokens';

/**
 * Who may decide a gate, e.g. "carol, group controllers"; "admins" when
 * nobody is named.
 */
export function approverList(approval: IApproval): string {
  const names = [
    ...approval.approvers.users,
    ...approval.approvers.groups.map(group => `group ${group}`)
  ];
  return names.length ? names.join(', ') : 'admins';
}

/**
 * One line saying where a gate stands: waiting since when and for whom, or
 * who decided, when, how and why.
 */
export function approvalLine(
  approval: IApproval,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  if (approval.status === 'pending') {
    const since = trans.__(
      '%1 waits for approval since %2 (approvers: %3)',
      approval.step_id,
      formatTime(approval.requested_at),
      approverList(approval)
    );
    return approval.escalated_at
      ? `${since} · ${trans.__('escalated %1', formatTime(approval.escalated_at))}`
      : since;
  }
  if (approval.status === 'cancelled') {
    return trans.__(
      '%1: closed, the run ended while it waited',
      approval.step_id
    );
  }
  const by =
    approval.via === 'timeout'
      ? trans.__('%1 %2 at its timeout', approval.step_id, approval.status)
      : trans.__(
          '%1 %2 by %3 (%4) %5',
          approval.step_id,
          approval.status,
          approval.decided_by ?? '',
          approval.via ?? '',
          formatTime(approval.decided_at)
        );
  return approval.reason ? `${by}: ${approval.reason}` : by;
}
