import { ISearchState, SearchController } from '../catalog/search';
import { ISearchHit, ISearchPage, ITable } from '../catalog/tokens';

interface ICall {
  query: string;
  filters: { [facet: string]: string | undefined };
  offset: number;
  limit: number;
  signal: AbortSignal;
  resolve: (page: ISearchPage) => void;
  reject: (error: unknown) => void;
}

function table(id: number, name: string): ITable {
  return {
    id,
    connection: 'demo_odoo',
    schema: 'main',
    name,
    kind: 'table',
    layer: null,
    label: null,
    odoo_model: null,
    module: null,
    row_estimate: null,
    size_bytes: null,
    comment: null,
    extra: {},
    description: null,
    tags: [],
    auto_tags: [],
    steward: null,
    certified: false,
    usage_count: 0,
    first_seen: '2026-01-01T00:00:00',
    last_seen: '2026-01-01T00:00:00',
    dropped_at: null
  };
}

function page(
  query: string,
  total: number,
  offset: number,
  count: number
): ISearchPage {
  const hits: ISearchHit[] = [];
  for (let i = offset; i < Math.min(total, offset + count); i++) {
    hits.push({
      table: table(i, `${query}_${i}`),
      score: 1,
      matched_columns: []
    });
  }
  return { query, total, hits, facets: { schema: { main: total } } };
}

function setup(pageSize = 10) {
  const calls: ICall[] = [];
  const states: ISearchState[] = [];
  const errors: string[] = [];
  const controller = new SearchController({
    debounceMs: 150,
    pageSize,
    fetch: (request, signal) =>
      new Promise<ISearchPage>((resolve, reject) => {
        calls.push({ ...request, signal, resolve, reject });
      }),
    onChange: state => states.push(state),
    onError: (_, query) => errors.push(query)
  });
  return { controller, calls, states, errors };
}

/**
 * Let settled promises run their continuations (the timers are fake).
 */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

describe('SearchController', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('searches a key after a pause at once, and merges keys typed faster', async () => {
    const { controller, calls } = setup();
    controller.setQuery('a');
    expect(calls.map(c => c.query)).toEqual(['a']);
    expect(controller.state.status).toBe('loading');
    jest.advanceTimersByTime(100);
    controller.setQuery('ac');
    expect(calls[0].signal.aborted).toBe(true);
    jest.advanceTimersByTime(100);
    controller.setQuery('acc');
    expect(calls).toHaveLength(1);
    jest.advanceTimersByTime(149);
    expect(calls).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(calls.map(c => [c.query, c.offset, c.limit])).toEqual([
      ['a', 0, 10],
      ['acc', 0, 10]
    ]);
    expect(controller.state.status).toBe('loading');
    // A pause as long as the debounce: the next key searches at once again.
    jest.advanceTimersByTime(150);
    controller.setQuery('acco');
    expect(calls.map(c => c.query)).toEqual(['a', 'acc', 'acco']);
    expect(calls[1].signal.aborted).toBe(true);
  });

  it('drops the answer of a stale query even when it arrives last', async () => {
    const { controller, calls } = setup();
    controller.setQuery('account');
    jest.advanceTimersByTime(150);
    controller.setQuery('journal');
    jest.advanceTimersByTime(150);
    expect(calls.map(c => c.query)).toEqual(['account', 'journal']);
    expect(calls[0].signal.aborted).toBe(true);
    expect(calls[1].signal.aborted).toBe(false);

    calls[1].resolve(page('journal', 2, 0, 10));
    await flush();
    calls[0].resolve(page('account', 7, 0, 10));
    await flush();

    const state = controller.state;
    expect(state.status).toBe('ready');
    expect(state.answered).toBe('journal');
    expect(state.total).toBe(2);
    expect(state.hits.map(h => h?.table.name)).toEqual([
      'journal_0',
      'journal_1'
    ]);
  });

  it('keeps the previous results shown while the next query loads', async () => {
    const { controller, calls } = setup();
    controller.setQuery('move');
    jest.advanceTimersByTime(150);
    calls[0].resolve(page('move', 3, 0, 10));
    await flush();
    controller.setQuery('move line');
    expect(controller.state.status).toBe('loading');
    expect(controller.state.hits).toHaveLength(3);
    expect(controller.state.answered).toBe('move');
  });

  it('clears at once when the query is emptied, and ignores late answers', async () => {
    const { controller, calls } = setup();
    controller.setQuery('partner');
    jest.advanceTimersByTime(150);
    controller.setQuery('  ');
    expect(controller.state.status).toBe('idle');
    calls[0].resolve(page('partner', 5, 0, 10));
    await flush();
    expect(controller.state.status).toBe('idle');
    expect(controller.state.hits).toHaveLength(0);
    jest.advanceTimersByTime(1000);
    expect(calls).toHaveLength(1);
  });

  it('searches at once when a filter changes, with the filter', async () => {
    const { controller, calls } = setup();
    controller.setQuery('partner');
    jest.advanceTimersByTime(150);
    calls[0].resolve(page('partner', 5, 0, 10));
    await flush();
    controller.setFilters({ tag: 'pii' });
    jest.advanceTimersByTime(0);
    expect(calls[1].filters).toEqual({ tag: 'pii' });
    expect(calls[1].query).toBe('partner');
  });

  it('loads only the pages scrolled to, each once', async () => {
    const { controller, calls } = setup(10);
    controller.setQuery('x');
    jest.advanceTimersByTime(150);
    calls[0].resolve(page('x', 10000, 0, 10));
    await flush();
    expect(controller.state.hits).toHaveLength(10000);
    expect(controller.state.hits[10]).toBeUndefined();

    controller.ensureRange(0, 25);
    controller.ensureRange(5, 25);
    expect(calls.map(c => c.offset)).toEqual([0, 10, 20]);
    controller.ensureRange(9990, 10020);
    expect(calls.map(c => c.offset)).toEqual([0, 10, 20, 9990]);

    calls[3].resolve(page('x', 10000, 9990, 10));
    await flush();
    expect(controller.state.hits[9999]?.table.name).toBe('x_9999');
    expect(controller.state.hits[10]).toBeUndefined();
    expect(controller.state.hits[0]?.table.name).toBe('x_0');
  });

  it('reports a failure of the current query and shows it', async () => {
    const { controller, calls, errors } = setup();
    controller.setQuery('bad');
    jest.advanceTimersByTime(150);
    calls[0].reject(new Error('q: a search is at most 200 characters'));
    await flush();
    expect(controller.state.status).toBe('error');
    expect(controller.state.error).toBe(
      'q: a search is at most 200 characters'
    );
    expect(errors).toEqual(['bad']);
  });

  it('does not report the failure (abort) of a stale query', async () => {
    const { controller, calls, errors } = setup();
    controller.setQuery('one');
    jest.advanceTimersByTime(150);
    controller.setQuery('two');
    calls[0].reject(new DOMException('aborted', 'AbortError'));
    await flush();
    expect(errors).toEqual([]);
    expect(controller.state.status).toBe('loading');
  });
});
