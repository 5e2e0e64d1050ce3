/**
 * How a connection test's outcome reads.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { ITestResult } from './tokens';

/**
 * A test's outcome in one line, the reason first: the driver's words come
 * after a long preamble.
 */
export function testSummary(
  result: ITestResult,
  trans: TranslationBundle
): string {
  if (result.ok) {
    return result.message;
  }
  const reasons: { [reason: string]: string } = {
    host_not_found: trans.__('host not found'),
    connection_refused: trans.__('connection refused'),
    authentication_failed: trans.__('authentication failed'),
    database_not_found: trans.__('database not found'),
    tls_error: trans.__('TLS error'),
    timeout: trans.__('no answer in time'),
    not_found: trans.__('not found')
  };
  const reason = result.reason ? reasons[result.reason] : undefined;
  return reason
    ? trans.__(
        'Test of %1 failed: %2. %3',
        result.connection,
        reason,
        result.message
      )
    : trans.__('Test of %1 failed: %2', result.connection, result.message);
}
