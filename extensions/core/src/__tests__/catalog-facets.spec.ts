import {
  facetChips,
  hasFilters,
  searchParams,
  toggleFacet
} from '../catalog/facets';

describe('toggleFacet', () => {
  it('sets a filter, replaces it, and clears it on a second click', () => {
    const one = toggleFacet({}, 'tag', 'pii');
    expect(one).toEqual({ tag: 'pii' });
    const other = toggleFacet(one, 'tag', 'finance');
    expect(other).toEqual({ tag: 'finance' });
    const both = toggleFacet(other, 'schema', 'main');
    expect(both).toEqual({ tag: 'finance', schema: 'main' });
    expect(toggleFacet(both, 'tag', 'finance')).toEqual({ schema: 'main' });
    // The input is never changed.
    expect(one).toEqual({ tag: 'pii' });
  });

  it('knows when filters are set', () => {
    expect(hasFilters({})).toBe(false);
    expect(hasFilters(toggleFacet({}, 'kind', 'view'))).toBe(true);
  });
});

describe('facetChips', () => {
  const facets = {
    connection: { demo_odoo: 4 },
    schema: { main: 3, audit: 1 },
    tag: { pii: 2, finance: 3 }
  };

  it('shows the values that narrow the results, in facet order, most first', () => {
    const chips = facetChips(facets, 4, {});
    expect(chips.map(c => `${c.facet}:${c.value}:${c.count}`)).toEqual([
      'schema:main:3',
      'schema:audit:1',
      'tag:finance:3',
      'tag:pii:2'
    ]);
    expect(chips.every(c => !c.active)).toBe(true);
  });

  it('keeps an active filter even when every result has it', () => {
    const chips = facetChips(facets, 4, { connection: 'demo_odoo' });
    expect(chips[0]).toEqual({
      facet: 'connection',
      value: 'demo_odoo',
      count: 4,
      active: true
    });
  });

  it('shows an active filter the answer does not count, with 0', () => {
    const chips = facetChips({}, 0, { tag: 'gone' });
    expect(chips).toEqual([
      { facet: 'tag', value: 'gone', count: 0, active: true }
    ]);
  });

  it('limits the chips per facet but never drops the active one', () => {
    const many: { [value: string]: number } = {};
    for (let i = 0; i < 20; i++) {
      many[`t${String(i).padStart(2, '0')}`] = 20 - i;
    }
    const chips = facetChips({ tag: many }, 100, { tag: 't19' }, 3);
    expect(chips.map(c => c.value)).toEqual(['t19', 't00', 't01', 't02']);
  });
});

describe('searchParams', () => {
  it('sends the query, the filters and the page', () => {
    expect(
      searchParams('account move', { tag: 'pii', schema: 'main' }, 100, 50)
    ).toEqual({
      q: 'account move',
      schema: 'main',
      tag: 'pii',
      offset: 100,
      limit: 50
    });
  });
});
