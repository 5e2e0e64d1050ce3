/**
 * A lake table's freshness as the open table view polls it: a newer version
 * or write replaces what is shown; the same, or an older answer, changes
 * nothing (no re-render, no going back).
 */
import { ITable, ITableFreshness } from '../catalog/tokens';
import { lastWrite, withFreshness } from '../catalog/versions';

function table(extra: { [key: string]: unknown }): ITable {
  return {
    id: 7,
    connection: 'lake',
    schema: 'bronze',
    name: 'res_partner',
    kind: 'dataset',
    layer: 'bronze',
    label: null,
    odoo_model: null,
    module: null,
    row_estimate: 10,
    size_bytes: 100,
    comment: null,
    extra,
    description: null,
    tags: [],
    auto_tags: [],
    steward: null,
    certified: false,
    usage_count: 0,
    first_seen: '2026-12-01T00:00:00+00:00',
    last_seen: '2026-12-01T00:00:00+00:00',
    dropped_at: null
  };
}

const shown = table({
  format: 'delta',
  version: 3,
  versions: 4,
  last_write: '2026-12-06T10:00:00+00:00',
  last_writer: 'pipeline odoo_live run r1 step extract attempt 1',
  last_operation: 'append'
});

function fresh(patch: Partial<ITableFreshness>): ITableFreshness {
  return {
    id: 7,
    version: 3,
    versions: 4,
    last_write: '2026-12-06T10:00:00+00:00',
    last_writer: 'pipeline odoo_live run r1 step extract attempt 1',
    last_operation: 'append',
    row_estimate: 10,
    ...patch
  };
}

describe('withFreshness', () => {
  it('shows a newer version and write', () => {
    const updated = withFreshness(
      shown,
      fresh({
        version: 4,
        versions: 5,
        last_write: '2026-12-06T10:00:02+00:00',
        row_estimate: 13
      })
    );
    expect(updated).not.toBeNull();
    expect(lastWrite(updated!)).toEqual({
      version: 4,
      versions: 5,
      when: '2026-12-06T10:00:02+00:00',
      who: 'pipeline odoo_live run r1 step extract attempt 1',
      operation: 'append'
    });
    expect(updated!.row_estimate).toBe(13);
    expect(updated!.extra.format).toBe('delta');
    expect(shown.extra.version).toBe(3); // the shown table is not changed in place
  });

  it('changes nothing for the same answer', () => {
    expect(withFreshness(shown, fresh({}))).toBeNull();
  });

  it('never goes back to an older version', () => {
    expect(
      withFreshness(shown, fresh({ version: 2, last_write: 'earlier' }))
    ).toBeNull();
  });
});
