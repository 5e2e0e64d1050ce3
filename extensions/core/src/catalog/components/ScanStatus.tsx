import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatDuration } from '../../pipelines/format';
import { IScanProgress } from '../scans';

/**
 * The scans started from the panel: a line each while it runs (with the time
 * it has taken so far), then its outcome for a few seconds.
 */
export function ScanStatus(props: {
  trans: TranslationBundle;
  scans: IScanProgress[];
}): JSX.Element | null {
  const { trans, scans } = props;
  const [now, setNow] = React.useState(Date.now());
  const running = scans.some(
    s => s.status === 'starting' || s.status === 'running'
  );
  React.useEffect(() => {
    if (!running) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  if (scans.length === 0) {
    return null;
  }
  return (
    <div className="jp-WorkbenchCatalog-scans" role="status" aria-live="polite">
      {scans.map(scan => {
        let text: string;
        switch (scan.status) {
          case 'starting':
          case 'running':
            text = trans.__(
              'Scanning %1… %2',
              scan.connection,
              formatDuration(Math.max(0, (now - scan.since) / 1000)) || '0 s'
            );
            break;
          case 'succeeded': {
            const stats = scan.scan?.stats ?? {};
            text = trans.__(
              'Scanned %1: %2 tables, %3 columns',
              scan.connection,
              String(stats.tables ?? '?'),
              String(stats.columns ?? '?')
            );
            break;
          }
          default:
            text = trans.__(
              'Scanning %1 failed: %2',
              scan.connection,
              scan.error ?? ''
            );
        }
        return (
          <div
            key={scan.connection}
            className={`jp-WorkbenchCatalog-scan jp-mod-${scan.status}`}
            data-connection={scan.connection}
            data-status={scan.status}
          >
            {(scan.status === 'starting' || scan.status === 'running') && (
              <span className="jp-WorkbenchCatalog-scanBar" />
            )}
            <span className="jp-WorkbenchCatalog-scanText">{text}</span>
          </div>
        );
      })}
    </div>
  );
}
