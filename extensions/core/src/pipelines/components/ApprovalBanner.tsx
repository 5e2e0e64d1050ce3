import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { approvalLine } from '../approvals';
import { IApproval } from '../tokens';

/**
 * A run's approval gates: each waiting one as a banner with its message and,
 * for those who may decide, Approve and Reject…; decided ones as one line
 * each (who, when, how, why).
 */
export function ApprovalBanner(props: {
  trans: TranslationBundle;
  approvals: IApproval[];
  onApprove: (approval: IApproval) => void;
  onReject: (approval: IApproval) => void;
}): JSX.Element | null {
  const { trans, approvals } = props;
  if (approvals.length === 0) {
    return null;
  }
  return (
    <div className="jp-WorkbenchPipeline-approvals">
      {approvals.map(approval => (
        <div
          key={approval.step_id}
          className={`jp-WorkbenchPipeline-approval jp-mod-${approval.status}`}
          data-step={approval.step_id}
          role={approval.status === 'pending' ? 'alert' : undefined}
        >
          {approval.status === 'pending' && approval.message && (
            <div className="jp-WorkbenchPipeline-approvalMessage">
              {approval.message}
            </div>
          )}
          <div className="jp-WorkbenchPipeline-runBy">
            {approvalLine(approval, trans)}
          </div>
          {approval.status === 'pending' && approval.may_decide && (
            <div className="jp-WorkbenchPipeline-actions">
              <button
                className="jp-mod-styled jp-mod-accept jp-WorkbenchPipeline-approve"
                onClick={() => props.onApprove(approval)}
              >
                {trans.__('Approve')}
              </button>
              <button
                className="jp-mod-styled jp-mod-warn jp-WorkbenchPipeline-reject"
                onClick={() => props.onReject(approval)}
              >
                {trans.__('Reject…')}
              </button>
            </div>
          )}
        </div>
      ))}
    </div>
  );
}
