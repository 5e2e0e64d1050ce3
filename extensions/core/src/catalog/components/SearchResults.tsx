import { TranslationBundle } from '@jupyterlab/translation';
import { tableRowsIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { facetChips, FacetFilters, hasFilters, toggleFacet } from '../facets';
import { ISearchState } from '../search';
import { ITable } from '../tokens';
import { VirtualList } from './VirtualList';

/**
 * Height of a result row in pixels: a result shows two lines.
 */
const RESULT_ROW_HEIGHT = 44;

/**
 * What the search results need from the panel.
 */
export interface ISearchResultsProps {
  trans: TranslationBundle;
  search: ISearchState;
  onFilters: (filters: FacetFilters) => void;
  onResultsRange: (start: number, end: number) => void;
  onSelect: (table: ITable) => void;
  onOpen: (table: ITable) => void;
}

/**
 * The search results: facet chips, a summary, and the matching tables.
 */
export function SearchResults(props: ISearchResultsProps): JSX.Element {
  const { trans, search } = props;
  const [active, setActive] = React.useState(-1);
  React.useEffect(() => setActive(-1), [search.answered, search.filters]);
  const chips = facetChips(search.facets, search.total, search.filters);
  let summary: string;
  if (search.status === 'error') {
    summary = trans.__('Search failed: %1', search.error ?? '');
  } else if (search.status === 'loading' && search.answered === '') {
    summary = trans.__('Searching…');
  } else if (search.total === 0 && search.status === 'ready') {
    summary = hasFilters(search.filters)
      ? trans.__('No tables match "%1" with these filters.', search.answered)
      : trans.__('No tables match "%1".', search.answered);
  } else {
    summary = trans._n('%1 table', '%1 tables', search.total);
  }
  return (
    <>
      {chips.length > 0 && (
        <div
          className="jp-WorkbenchCatalog-facets"
          role="group"
          aria-label={trans.__('Filter the results')}
        >
          {chips.map(chip => (
            <button
              key={`${chip.facet}:${chip.value}`}
              type="button"
              className={`jp-WorkbenchCatalog-chip${chip.active ? ' jp-mod-active' : ''}`}
              aria-pressed={chip.active}
              title={
                chip.active
                  ? trans.__('Clear the %1 filter', chip.facet)
                  : trans.__('Only %1 %2', chip.facet, chip.value)
              }
              onClick={() =>
                props.onFilters(
                  toggleFacet(search.filters, chip.facet, chip.value)
                )
              }
            >
              <span className="jp-WorkbenchCatalog-chipFacet">
                {chip.facet}
              </span>
              <span className="jp-WorkbenchCatalog-chipValue">
                {chip.value}
              </span>
              <span className="jp-WorkbenchCatalog-chipCount">
                {chip.count}
              </span>
            </button>
          ))}
        </div>
      )}
      <div
        className="jp-WorkbenchCatalog-summary"
        role="status"
        aria-live="polite"
        data-status={search.status}
        data-answered={search.answered}
      >
        {summary}
      </div>
      <VirtualList
        className="jp-WorkbenchCatalog-results"
        role="listbox"
        label={trans.__('Search results')}
        rowCount={search.hits.length}
        rowHeight={RESULT_ROW_HEIGHT}
        rowKey={index => {
          const hit = search.hits[index];
          return hit ? `t${hit.table.id}` : `i${index}`;
        }}
        activeIndex={active}
        onActiveChange={index => {
          setActive(index);
          const hit = search.hits[index];
          if (hit) {
            props.onSelect(hit.table);
          }
        }}
        onActivate={index => {
          const hit = search.hits[index];
          if (hit) {
            props.onOpen(hit.table);
          }
        }}
        onRangeChange={range => props.onResultsRange(range.start, range.end)}
        renderRow={index => {
          const hit = search.hits[index];
          if (!hit) {
            return (
              <div className="jp-WorkbenchCatalog-placeholder">
                {trans.__('Loading…')}
              </div>
            );
          }
          const { table } = hit;
          const detail = [
            table.label,
            hit.matched_columns.length
              ? trans.__('columns: %1', hit.matched_columns.join(', '))
              : table.description
          ]
            .filter(Boolean)
            .join(' · ');
          return (
            <div
              className="jp-WorkbenchCatalog-result"
              data-table={table.name}
              title={`${table.connection} · ${table.schema}.${table.name}`}
            >
              <div className="jp-WorkbenchCatalog-resultName">
                <tableRowsIcon.react tag="span" elementSize="normal" />
                <span className="jp-WorkbenchCatalog-name">{table.name}</span>
                {table.certified && (
                  <span
                    className="jp-WorkbenchCatalog-certified"
                    title={trans.__('Certified')}
                  >
                    ✓
                  </span>
                )}
                <span className="jp-WorkbenchCatalog-where">
                  {table.connection} · {table.schema}
                </span>
              </div>
              <div className="jp-WorkbenchCatalog-resultDetail">{detail}</div>
            </div>
          );
        }}
      />
    </>
  );
}
