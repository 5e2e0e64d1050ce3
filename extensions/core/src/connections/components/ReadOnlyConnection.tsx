import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IKindSpec } from '../kinds';
import { readOnlyNote, settingRows } from '../readOnly';
import { IConnection } from '../tokens';

/**
 * A connection the user may use but not change: one line saying whose it is
 * and who may change it, then its settings, description and groups as text.
 */
export function ReadOnlyConnection(props: {
  connection: IConnection;
  spec: IKindSpec | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { connection, spec, trans } = props;
  const groups = connection.shared_groups.join(', ');
  const rows = [
    ...settingRows(connection, spec, trans),
    {
      name: 'description',
      label: trans.__('Description'),
      value: connection.description || trans.__('none')
    },
    {
      name: 'shared_groups',
      label: trans.__('Shared with groups'),
      value: groups || trans.__('none')
    }
  ];
  return (
    <>
      <p className="jp-WorkbenchConnections-readOnlyNote" role="note">
        {readOnlyNote(connection, trans)}
      </p>
      <dl className="jp-WorkbenchConnections-readOnly">
        {rows.map(row => (
          <div key={row.name} data-setting={row.name}>
            <dt>{row.label}</dt>
            <dd>{row.value}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}
