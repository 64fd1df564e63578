import { describe, expect, it } from 'vitest';
import { RowWindow, type Page } from './rowWindow';

/** A catalog of `n` numbered rows whose answers resolve only when the test says so. */
function catalog(n: number) {
  const calls: { offset: number; limit: number; resolve: () => void }[] = [];
  const fetch = (offset: number, limit: number) =>
    new Promise<Page<number>>((resolve) => {
      const rows = Array.from({ length: Math.max(0, Math.min(limit, n - offset)) }, (_, i) => offset + i);
      calls.push({ offset, limit, resolve: () => resolve({ total: n, offset, rows }) });
    });
  return { fetch, calls };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('RowWindow', () => {
  it('fetches only the pages that hold the visible rows', async () => {
    const c = catalog(100_000);
    let changes = 0;
    const w = new RowWindow(c.fetch, () => changes++, 100);
    const first = w.reset();
    c.calls[0].resolve();
    await first;
    expect(w.total).toBe(100_000);
    expect(w.row(42)).toBe(42);
    expect(w.row(150)).toBeUndefined();
    const more = w.ensure(5_030, 5_070);
    expect(c.calls.map((x) => x.offset)).toEqual([0, 5_000]);
    c.calls[1].resolve();
    await more;
    expect(w.row(5_050)).toBe(5_050);
    expect(changes).toBe(2);
  });

  it('does not ask twice for a page on its way', async () => {
    const c = catalog(1_000);
    const w = new RowWindow(c.fetch, () => {}, 100);
    void w.reset();
    void w.ensure(0, 50);
    void w.ensure(10, 90);
    expect(c.calls.length).toBe(1);
  });

  it('drops the answer to an older query', async () => {
    const old = catalog(500);
    const now = catalog(3);
    const w = new RowWindow(old.fetch, () => {}, 100);
    void w.reset();
    const second = w.reset(now.fetch);
    now.calls[0].resolve();
    await second;
    old.calls[0].resolve();
    await flush();
    expect(w.total).toBe(3);
    expect(w.row(0)).toBe(0);
    expect(w.row(3)).toBeUndefined();
  });

  it('keeps at most maxPages pages, dropping the farthest', async () => {
    const c = catalog(10_000);
    const w = new RowWindow(c.fetch, () => {}, 10, 3);
    const load = async (start: number) => {
      const p = w.ensure(start, start + 10);
      c.calls[c.calls.length - 1].resolve();
      await p;
    };
    const first = w.reset();
    c.calls[0].resolve();
    await first;
    await load(10);
    await load(20);
    await load(30);
    expect(w.held()).toEqual([1, 2, 3]);
    expect(w.row(5)).toBeUndefined();
  });

  it('stops at the end of the rows', async () => {
    const c = catalog(120);
    const w = new RowWindow(c.fetch, () => {}, 100);
    const first = w.reset();
    c.calls[0].resolve();
    await first;
    void w.ensure(100, 400);
    expect(c.calls.map((x) => x.offset)).toEqual([0, 100]);
  });

  it('remembers a failed page as the error and recovers on reset', async () => {
    let fail = true;
    const w = new RowWindow<number>(
      (offset) => (fail ? Promise.reject(new Error('provider down')) : Promise.resolve({ total: 1, offset, rows: [7] })),
      () => {},
    );
    await w.reset();
    expect(String(w.error)).toContain('provider down');
    fail = false;
    await w.reset();
    expect(w.error).toBeNull();
    expect(w.row(0)).toBe(7);
  });
});
