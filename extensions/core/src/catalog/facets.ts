/**
 * Facet filters of the catalog search: which chips to show and what a click
 * on one does. One value per facet, as the search endpoint filters by one.
 */
import { Facet, FACETS, ISearchPage } from './tokens';

/**
 * The active filters: facet -> chosen value.
 */
export type FacetFilters = { readonly [facet in Facet]?: string };

/**
 * One chip of the facet bar.
 */
export interface IFacetChip {
  facet: Facet;
  value: string;
  /**
   * Tables matching the query (and the other filters) with this value.
   */
  count: number;
  /**
   * Whether this value is the facet's filter now.
   */
  active: boolean;
}

/**
 * Chips at most shown per facet; the active one is always shown.
 */
export const MAX_CHIPS_PER_FACET = 8;

/**
 * Filters after a click on a chip: choose the value, or clear the facet when
 * the value was already chosen. Returns a new object.
 */
export function toggleFacet(
  filters: FacetFilters,
  facet: Facet,
  value: string
): FacetFilters {
  const next: { [facet in Facet]?: string } = { ...filters };
  if (next[facet] === value) {
    delete next[facet];
  } else {
    next[facet] = value;
  }
  return next;
}

/**
 * Whether any filter is set.
 */
export function hasFilters(filters: FacetFilters): boolean {
  return FACETS.some(facet => filters[facet] !== undefined);
}

/**
 * The chips for a search answer, in facet order then by count (most first).
 *
 * A value every result has tells nothing and narrows nothing, so it is left
 * out unless it is the active filter. An active filter is shown even when the
 * answer does not count it (no results), so it can always be cleared.
 *
 * @param facets The answer's facet counts.
 * @param total How many tables the answer matched.
 * @param filters The active filters.
 * @param maxPerFacet At most this many chips per facet (plus the active one).
 */
export function facetChips(
  facets: ISearchPage['facets'],
  total: number,
  filters: FacetFilters,
  maxPerFacet: number = MAX_CHIPS_PER_FACET
): IFacetChip[] {
  const chips: IFacetChip[] = [];
  for (const facet of FACETS) {
    const counts = facets[facet] ?? {};
    const active = filters[facet];
    const shown = Object.entries(counts)
      .filter(([value, count]) => value === active || count < total)
      .sort(([a, ca], [b, cb]) => cb - ca || a.localeCompare(b))
      .slice(0, maxPerFacet);
    if (active !== undefined && !shown.some(([value]) => value === active)) {
      shown.unshift([active, counts[active] ?? 0]);
    }
    for (const [value, count] of shown) {
      chips.push({ facet, value, count, active: value === active });
    }
  }
  return chips;
}

/**
 * Query parameters of a search request.
 */
export function searchParams(
  query: string,
  filters: FacetFilters,
  offset: number,
  limit: number
): { [key: string]: string | number } {
  const params: { [key: string]: string | number } = { q: query };
  for (const facet of FACETS) {
    const value = filters[facet];
    if (value !== undefined) {
      params[facet] = value;
    }
  }
  params.offset = offset;
  params.limit = limit;
  return params;
}
