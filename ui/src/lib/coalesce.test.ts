import { describe, expect, it } from 'vitest';
import { coalesce } from './coalesce';

describe('coalesce', () => {
  it('runs a burst of calls as the one running plus one more, never two at once', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    let release: (() => void) | null = null;
    const work = async () => {
      active++;
      most = Math.max(most, active);
      runs++;
      await new Promise<void>((r) => (release = r));
      active--;
    };
    const call = coalesce(work, 0);
    const first = call();
    for (let i = 0; i < 10; i++) void call();
    expect(runs).toBe(1);
    release!();
    await new Promise((r) => setTimeout(r, 5));
    expect(runs).toBe(2);
    release!();
    await first;
    expect(runs).toBe(2);
    expect(most).toBe(1);
    // Idle again: the next call runs at once.
    const next = call();
    expect(runs).toBe(3);
    release!();
    await next;
  });

  it('a failed run lets the next call run', async () => {
    let runs = 0;
    const call = coalesce(async () => {
      runs++;
      if (runs === 1) throw new Error('no');
    }, 0);
    await expect(call()).rejects.toThrow('no');
    await call();
    expect(runs).toBe(2);
  });
});
