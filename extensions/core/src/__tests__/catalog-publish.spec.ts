import { nullTranslator } from '@jupyterlab/translation';

import {
  IPublishResult,
  publishRequest,
  publishSummary,
  supersetTargets,
  unpublishSummary
} from '../catalog/publish';
import { ISource, ITable } from '../catalog/tokens';

const trans = nullTranslator.load('test');

function source(connection: string, kind: string): ISource {
  return { connection, kind, scannable: true, tables: 0, last_scan: null };
}

function table(connection: string, schema: string, name: string): ITable {
  return { id: 1, connection, schema, name } as unknown as ITable;
}

const SOURCES = [
  source('lake', 'lake'),
  source('alice_lake', 'lake'),
  source('odoo', 'postgres'),
  source('prod_bi', 'superset'),
  source('bi', 'superset')
];

describe('publishRequest', () => {
  it('publishes tables of the lake and of lake connections', () => {
    expect(publishRequest(table('lake', 'gold', 'tb'), SOURCES, 'bi')).toEqual({
      table: 'gold.tb',
      to: 'bi',
      lake: null
    });
    expect(
      publishRequest(table('alice_lake', 'silver', 'x'), SOURCES, 'bi')
    ).toEqual({ table: 'silver.x', to: 'bi', lake: 'alice_lake' });
  });

  it('refuses other tables', () => {
    expect(
      publishRequest(table('odoo', 'public', 'res_partner'), SOURCES, 'bi')
    ).toBeNull();
    expect(publishRequest(table('lake', 'public', 'x'), SOURCES, 'bi')).toBe(
      null
    );
    expect(publishRequest(table('gone', 'gold', 'x'), SOURCES, 'bi')).toBe(
      null
    );
  });
});

describe('supersetTargets', () => {
  it('lists the superset connections by name', () => {
    expect(supersetTargets(SOURCES)).toEqual(['bi', 'prod_bi']);
    expect(supersetTargets([source('lake', 'lake')])).toEqual([]);
  });
});

describe('publishSummary', () => {
  const result: IPublishResult = {
    table: 'gold.tb',
    superset: 'bi',
    dataset_id: 3,
    dataset_url: 'http://bi/explore/?datasource_id=3',
    created: true,
    rows: 12,
    version: 4,
    columns: ['account', 'balance'],
    excluded_pii: [],
    kept_edits: []
  };

  it('says what was published', () => {
    expect(publishSummary(result, trans)).toBe(
      'gold.tb published to bi as a new dataset (12 rows).'
    );
  });

  it('names the pii columns left out and the edits kept', () => {
    expect(
      publishSummary(
        {
          ...result,
          created: false,
          excluded_pii: ['email'],
          kept_edits: ['balance.description']
        },
        trans
      )
    ).toBe(
      'gold.tb published again to bi (12 rows). Left out (pii): email. ' +
        'Kept as edited in Superset: balance.description.'
    );
  });
});

describe('unpublishSummary', () => {
  it('says which dataset was deleted', () => {
    expect(
      unpublishSummary(
        {
          table: 'gold.tb',
          superset: 'bi',
          dataset_id: 3,
          removed_from_file: true,
          broken_charts: []
        },
        trans
      )
    ).toBe('gold.tb removed from bi (dataset 3 deleted).');
  });

  it('names the charts a forced removal broke', () => {
    expect(
      unpublishSummary(
        {
          table: 'gold.tb',
          superset: 'bi',
          dataset_id: null,
          removed_from_file: true,
          broken_charts: ['Balances (7)']
        },
        trans
      )
    ).toBe(
      'gold.tb removed from bi. Charts that used it now fail: Balances (7).'
    );
  });
});
