import { describe, expect, it } from 'vitest';
import { newest } from './newest';

describe('newest', () => {
  it('keeps the newest request’s answer when an older one arrives last', () => {
    const shown: string[] = [];
    const take = newest<string>((v) => shown.push(v));
    const older = take(); // e.g. a slow list that still has the removed profile
    const newer = take(); // the list read after the removal
    newer('without it');
    older('with it');
    expect(shown).toEqual(['without it']);
  });

  it('applies answers that arrive in order', () => {
    const shown: number[] = [];
    const take = newest<number>((v) => shown.push(v));
    take()(1);
    take()(2);
    expect(shown).toEqual([1, 2]);
  });
});
