import { IScanAPI, ScanModel } from '../catalog/scans';
import { IScan } from '../catalog/tokens';

function scan(id: number, status: string, extra: Partial<IScan> = {}): IScan {
  return {
    id,
    connection: 'demo_odoo',
    status,
    started_at: '2026-11-26T10:00:00Z',
    finished_at: status === 'running' ? null : '2026-11-26T10:00:05Z',
    error: null,
    stats: {},
    ...extra
  };
}

/**
 * A worker that records the scan as running after one look, then finished.
 */
class FakeAPI implements IScanAPI {
  constructor(readonly outcome: IScan) {}
  started: string[] = [];
  looks = 0;
  async startScan(name: string): Promise<string> {
    this.started.push(name);
    return 'catalog-scan-demo_odoo-1';
  }
  async scans(): Promise<IScan[]> {
    const old = scan(1, 'succeeded');
    if (this.started.length === 0) {
      return [old];
    }
    this.looks += 1;
    if (this.looks === 1) {
      return [old];
    }
    if (this.looks === 2) {
      return [scan(2, 'running'), old];
    }
    return [this.outcome, old];
  }
}

describe('ScanModel', () => {
  const noWait = () => Promise.resolve();

  it('starts a scan on the worker and follows it until it has finished', async () => {
    const api = new FakeAPI(
      scan(2, 'succeeded', { stats: { tables: 19, columns: 303 } })
    );
    const model = new ScanModel(api, { wait: noWait });
    const seen: string[] = [];
    model.changed.connect((_, name) =>
      seen.push(`${name}:${model.progress(name)!.status}`)
    );
    const done = await model.scan('demo_odoo');
    expect(api.started).toEqual(['demo_odoo']);
    expect(done.status).toBe('succeeded');
    expect(done.scan!.stats.tables).toBe(19);
    // The earlier scan (id 1) is not taken for this one.
    expect(seen).toEqual([
      'demo_odoo:starting',
      'demo_odoo:running',
      'demo_odoo:succeeded'
    ]);
    expect(model.isScanning('demo_odoo')).toBe(false);
  });

  it("says why a scan failed, in the scan's own words", async () => {
    const api = new FakeAPI(
      scan(2, 'failed', { error: "connection 'demo_odoo': file not found" })
    );
    const done = await new ScanModel(api, { wait: noWait }).scan('demo_odoo');
    expect(done.status).toBe('failed');
    expect(done.error).toBe("connection 'demo_odoo': file not found");
  });

  it('starts one scan at a time per source', async () => {
    const api = new FakeAPI(scan(2, 'succeeded'));
    const model = new ScanModel(api, { wait: noWait });
    const [a, b] = await Promise.all([
      model.scan('demo_odoo'),
      model.scan('demo_odoo')
    ]);
    expect(a).toBe(b);
    expect(api.started).toEqual(['demo_odoo']);
  });

  it('reports a refused start as a failure, never as an exception', async () => {
    const api = new FakeAPI(scan(2, 'succeeded'));
    api.startScan = () => Promise.reject(new Error('no worker'));
    const done = await new ScanModel(api, { wait: noWait }).scan('demo_odoo');
    expect(done.status).toBe('failed');
    expect(done.error).toBe('no worker');
  });
});
