// The Library's rows, a window at a time: pages are fetched from the catalog as the list
// scrolls, a few are kept, and answers to an older query are dropped. Rows never all cross
// IPC, and the DOM holds only the visible ones (the list is virtual).

export interface Page<R> {
  total: number;
  offset: number;
  rows: R[];
}

export type FetchPage<R> = (offset: number, limit: number) => Promise<Page<R>>;

export class RowWindow<R> {
  total = 0;
  /** Whether the current query has answered once. */
  loaded = false;
  error: unknown = null;
  private pages = new Map<number, R[]>();
  private pending = new Set<number>();
  private generation = 0;

  constructor(
    private fetch: FetchPage<R>,
    private onChange: () => void,
    readonly pageSize = 100,
    readonly maxPages = 12,
  ) {}

  /** A new query: forget every row and fetch the first page. */
  reset(fetch: FetchPage<R> = this.fetch): Promise<void> {
    this.fetch = fetch;
    this.generation++;
    this.pages.clear();
    this.pending.clear();
    this.loaded = false;
    this.error = null;
    return this.ensure(0, this.pageSize);
  }

  row(index: number): R | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  /** Fetch the pages that hold rows `start..end` (end exclusive) unless held or on their way. */
  async ensure(start: number, end: number): Promise<void> {
    const first = Math.max(0, Math.floor(start / this.pageSize));
    const last = Math.max(first, Math.floor((Math.max(end, start + 1) - 1) / this.pageSize));
    const loads: Promise<void>[] = [];
    for (let p = first; p <= last; p++) {
      if (this.loaded && p * this.pageSize >= this.total) break;
      if (!this.pages.has(p) && !this.pending.has(p)) loads.push(this.load(p));
    }
    await Promise.all(loads);
  }

  /** The pages held (for tests and memory checks). */
  held(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }

  private async load(p: number): Promise<void> {
    const generation = this.generation;
    this.pending.add(p);
    try {
      const page = await this.fetch(p * this.pageSize, this.pageSize);
      if (generation !== this.generation) return;
      this.pages.set(p, page.rows);
      this.total = page.total;
      this.loaded = true;
      this.error = null;
      this.evict(p);
    } catch (e) {
      if (generation !== this.generation) return;
      this.error = e;
      this.loaded = true;
    } finally {
      if (generation === this.generation) this.pending.delete(p);
    }
    this.onChange();
  }

  /** Keep at most `maxPages`: drop the ones farthest from the page just loaded. */
  private evict(near: number) {
    while (this.pages.size > this.maxPages) {
      let far = near;
      for (const k of this.pages.keys()) if (Math.abs(k - near) > Math.abs(far - near)) far = k;
      if (far === near) break;
      this.pages.delete(far);
    }
  }
}
