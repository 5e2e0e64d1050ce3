import {
  buildQueryCell,
  needsQuotes,
  qualifiedName,
  quoteIdentifier
} from '../catalog/sql';

describe('quoteIdentifier', () => {
  it.each([
    ['account_move', 'account_move'],
    ['_tmp1', '_tmp1'],
    ['res$x', 'res$x']
  ])('leaves the plain name %p as is', (name, expected) => {
    expect(needsQuotes(name)).toBe(false);
    expect(quoteIdentifier(name)).toBe(expected);
  });

  it.each([
    ['AccountMove', '"AccountMove"'],
    ['order', '"order"'],
    ['user', '"user"'],
    ['2024_sales', '"2024_sales"'],
    ['sales report', '"sales report"'],
    ['a-b', '"a-b"'],
    ['say "hi"', '"say ""hi"""'],
    ['', '""']
  ])('quotes %p as %p', (name, expected) => {
    expect(needsQuotes(name)).toBe(true);
    expect(quoteIdentifier(name)).toBe(expected);
  });
});

describe('qualifiedName', () => {
  it('joins schema and table, quoting each part on its own', () => {
    expect(qualifiedName('main', 'account_move')).toBe('main.account_move');
    expect(qualifiedName('Sales', 'order')).toBe('"Sales"."order"');
    expect(qualifiedName('silver', 'partner_segments')).toBe(
      'silver.partner_segments'
    );
  });

  it('leaves the schema out when there is none', () => {
    expect(qualifiedName('', 'x')).toBe('x');
    expect(qualifiedName(null, 'Y')).toBe('"Y"');
  });
});

describe('buildQueryCell', () => {
  it('reads a table through its connection alias', () => {
    expect(
      buildQueryCell({
        connection: 'demo_odoo',
        schema: 'main',
        name: 'account_move_line'
      })
    ).toBe('%%sql demo_odoo\nSELECT * FROM main.account_move_line LIMIT 100');
  });

  it('quotes what needs quoting and takes a limit', () => {
    expect(
      buildQueryCell(
        { connection: 'warehouse', schema: 'public', name: 'Order Lines' },
        'postgres',
        5
      )
    ).toBe('%%sql warehouse\nSELECT * FROM public."Order Lines" LIMIT 5');
  });

  it('names lake datasets layer.dataset', () => {
    expect(
      buildQueryCell(
        { connection: 'lake', schema: 'gold', name: 'pnl' },
        'lake'
      )
    ).toBe('%%sql lake\nSELECT * FROM gold.pnl LIMIT 100');
  });

  it("reads an Odoo API connection's model with %odoo", () => {
    expect(
      buildQueryCell(
        {
          connection: 'odoo_prod',
          schema: 'odoo',
          name: 'res_partner',
          odoo_model: 'res.partner'
        },
        'odoo'
      )
    ).toBe('%odoo search_read res.partner --limit 100 -c odoo_prod');
  });
});
