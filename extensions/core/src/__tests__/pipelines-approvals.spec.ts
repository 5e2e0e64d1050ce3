/**
 * How the pipeline view says where a run's approval gate stands.
 */
import { approvalLine, approverList } from '../pipelines/approvals';
import { IApproval } from '../pipelines/tokens';

const WAITING: IApproval = {
  run_id: '0123456789abcdef0123456789abcdef',
  pipeline: 'month_end',
  step_id: 'signoff',
  status: 'pending',
  message: 'Sign off November',
  approvers: { users: ['carol'], groups: ['controllers'] },
  requested_at: '2026-12-01T06:00:00Z',
  expires_at: null,
  escalated_at: null,
  decided_by: null,
  decided_at: null,
  reason: null,
  via: null,
  may_decide: true
};

describe('approvals', () => {
  it('names who may decide a waiting gate', () => {
    expect(approverList(WAITING)).toBe('carol, group controllers');
    expect(approvalLine(WAITING)).toMatch(
      /^signoff waits for approval since .+ \(approvers: carol, group controllers\)$/
    );
    const nobody = { ...WAITING, approvers: { users: [], groups: [] } };
    expect(approverList(nobody)).toBe('admins');
  });

  it('says who decided, how and why', () => {
    const rejected = {
      ...WAITING,
      status: 'rejected',
      decided_by: 'carol',
      decided_at: '2026-12-01T07:00:00Z',
      reason: 'FX not revalued',
      via: 'panel'
    };
    expect(approvalLine(rejected)).toMatch(
      /^signoff rejected by carol \(panel\) .+: FX not revalued$/
    );
    const timedOut = {
      ...rejected,
      decided_by: 'timeout',
      via: 'timeout',
      reason: 'nobody decided'
    };
    expect(approvalLine(timedOut)).toBe(
      'signoff rejected at its timeout: nobody decided'
    );
  });
});
