/**
 * As-you-type catalog search without the DOM: debounces typing, drops the
 * answers of queries that are no longer current (and aborts their requests),
 * and loads result pages only as the list scrolls to them.
 */
import { describeError } from '../request';
import { FacetFilters } from './facets';
import { ISearchHit, ISearchPage } from './tokens';

/**
 * What one search request asks for.
 */
export interface ISearchRequest {
  query: string;
  filters: FacetFilters;
  offset: number;
  limit: number;
}

/**
 * Runs one search request; must reject when the signal aborts it.
 */
export type SearchFetcher = (
  request: ISearchRequest,
  signal: AbortSignal
) => Promise<ISearchPage>;

/**
 * What the results list shows.
 */
export interface ISearchState {
  /**
   * The query as typed (possibly not answered yet).
   */
  query: string;

  /**
   * The active facet filters.
   */
  filters: FacetFilters;

  /**
   * `idle`: nothing to search; `loading`: waiting for the first page of the
   * current query (the previous results stay shown meanwhile); `ready`;
   * `error`: the current query failed.
   */
  status: 'idle' | 'loading' | 'ready' | 'error';

  /**
   * The query the results below answer.
   */
  answered: string;

  /**
   * Number of matching tables.
   */
  total: number;

  /**
   * Results by position; a hole where the page is not loaded yet.
   */
  hits: ReadonlyArray<ISearchHit | undefined>;

  /**
   * Facet counts of the answered query.
   */
  facets: ISearchPage['facets'];

  /**
   * Why the current query failed.
   */
  error: string | null;
}

/**
 * The state before anything was typed.
 */
export const IDLE_SEARCH: ISearchState = {
  query: '',
  filters: {},
  status: 'idle',
  answered: '',
  total: 0,
  hits: [],
  facets: {},
  error: null
};

/**
 * Debounce of typing, in milliseconds. A key that comes after a pause of at
 * least this long searches at once (keys typed by hand come 80-200 ms apart,
 * and a paste is one event): the server answers in a few milliseconds from its
 * index, the request of a query still being typed is aborted when the next key
 * comes and a late answer is dropped. Keys that come faster than this (a key
 * held down, input methods) are merged: the last of them is searched once they
 * pause for this long. Waiting this long before every search was 30 of the
 * 101 ms from typed to shown (issue 22 search_p95_ms, benchmarks/ui.py).
 */
export const SEARCH_DEBOUNCE_MS = 30;

/**
 * Results per request (the server allows at most 200): two lists' heights at
 * the sidebar's usual size; more come a page at a time as the list scrolls.
 * A page of 100 made every first answer twice as long to rank, send and parse.
 */
export const SEARCH_PAGE_SIZE = 50;

/**
 * Drives a search as people type and scroll.
 */
export class SearchController {
  /**
   * Create a controller; nothing is requested until a query is set.
   */
  constructor(options: SearchController.IOptions) {
    this._fetch = options.fetch;
    this._onChange = options.onChange;
    this._onError = options.onError ?? (() => undefined);
    this._debounceMs = options.debounceMs ?? SEARCH_DEBOUNCE_MS;
    this._pageSize = options.pageSize ?? SEARCH_PAGE_SIZE;
  }

  /**
   * The current state.
   */
  get state(): ISearchState {
    return this._state;
  }

  /**
   * The query typed: searched at once after a pause in typing, else once
   * typing pauses. An empty (or blank) query clears the results at once.
   */
  setQuery(query: string): void {
    if (query === this._state.query) {
      return;
    }
    const now = Date.now();
    const burst = now - this._typedAt < this._debounceMs;
    this._typedAt = now;
    this._restart(
      { query },
      query.trim() ? (burst ? this._debounceMs : 0) : null
    );
  }

  /**
   * New facet filters; searched at once.
   */
  setFilters(filters: FacetFilters): void {
    this._restart({ filters }, this._state.query.trim() ? 0 : null);
  }

  /**
   * Search the current query and filters again now (e.g. after an edit).
   */
  refresh(): void {
    this._restart({}, this._state.query.trim() ? 0 : null);
  }

  /**
   * Make sure the results in positions [start, end) are loaded or loading.
   */
  ensureRange(start: number, end: number): void {
    const { status, total, answered } = this._state;
    if (status !== 'ready' || answered !== this._state.query.trim()) {
      return;
    }
    const last = Math.min(end, total) - 1;
    for (
      let page = Math.floor(Math.max(0, start) / this._pageSize);
      page * this._pageSize <= last;
      page++
    ) {
      if (!this._pages.has(page)) {
        void this._load(page, this._generation);
      }
    }
  }

  /**
   * Stop timers and requests; later answers are ignored.
   */
  dispose(): void {
    this._generation++;
    this._cancel();
    this._onChange = () => undefined;
  }

  private _restart(
    change: Partial<Pick<ISearchState, 'query' | 'filters'>>,
    delay: number | null
  ): void {
    this._generation++;
    this._cancel();
    const query = change.query ?? this._state.query;
    const filters = change.filters ?? this._state.filters;
    if (delay === null) {
      this._set({ ...IDLE_SEARCH, query, filters });
      return;
    }
    this._set({ ...this._state, query, filters, status: 'loading' });
    const generation = this._generation;
    if (delay === 0) {
      void this._load(0, generation);
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._load(0, generation);
    }, delay);
  }

  private async _load(page: number, generation: number): Promise<void> {
    if (generation !== this._generation) {
      return;
    }
    this._pages.add(page);
    const controller = new AbortController();
    this._requests.add(controller);
    const query = this._state.query.trim();
    const filters = this._state.filters;
    let answer: ISearchPage;
    try {
      answer = await this._fetch(
        {
          query,
          filters,
          offset: page * this._pageSize,
          limit: this._pageSize
        },
        controller.signal
      );
    } catch (error) {
      if (generation !== this._generation) {
        return; // an answer nobody waits for any more, or an abort
      }
      this._pages.delete(page);
      if (page === 0) {
        this._set({
          ...this._state,
          status: 'error',
          error: describeError(error)
        });
      }
      this._onError(error, query);
      return;
    } finally {
      this._requests.delete(controller);
    }
    if (generation !== this._generation) {
      return;
    }
    const base = page === 0 ? [] : this._state.hits.slice();
    const hits: (ISearchHit | undefined)[] = base;
    hits.length = answer.total;
    answer.hits.forEach((hit, i) => {
      hits[page * this._pageSize + i] = hit;
    });
    this._set({
      ...this._state,
      status: 'ready',
      answered: query,
      total: answer.total,
      hits,
      facets: page === 0 ? answer.facets : this._state.facets,
      error: null
    });
  }

  private _cancel(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    for (const request of this._requests) {
      request.abort();
    }
    this._requests.clear();
    this._pages.clear();
  }

  private _set(state: ISearchState): void {
    this._state = state;
    this._onChange(state);
  }

  private _debounceMs: number;
  private _fetch: SearchFetcher;
  private _generation = 0;
  private _onChange: (state: ISearchState) => void;
  private _onError: (error: unknown, query: string) => void;
  private _pageSize: number;
  private _pages = new Set<number>();
  private _requests = new Set<AbortController>();
  private _state: ISearchState = IDLE_SEARCH;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _typedAt = -Infinity;
}

/**
 * A namespace for SearchController statics.
 */
export namespace SearchController {
  /**
   * Options to create a search controller.
   */
  export interface IOptions {
    /**
     * Runs a search request.
     */
    fetch: SearchFetcher;

    /**
     * Called with every new state.
     */
    onChange: (state: ISearchState) => void;

    /**
     * Called when a request of the current query fails.
     */
    onError?: (error: unknown, query: string) => void;

    /**
     * Debounce of typing in milliseconds.
     */
    debounceMs?: number;

    /**
     * Results per request.
     */
    pageSize?: number;
  }
}
