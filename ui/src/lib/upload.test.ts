import { describe, expect, it } from 'vitest';
import { applyEvent, dest, planUploads, totals, withFolder } from './upload';
import type { AppEvent, DropPlan } from './types';

const plan: DropPlan = {
  primary: 'lab-s3',
  secondary: 'team-supabase',
  bucket: 'ml-artifacts',
  profiles: ['lab-s3', 'local', 'team-supabase'],
  files: [
    {
      ok: true,
      file: '/home/a/run-7/model-v2.pt',
      name: 'run-7/model-v2.pt',
      size: 5_000_000,
      kind: 'model',
      rule: 'models',
      destination: 'primary+secondary',
      profiles: ['lab-s3', 'team-supabase'],
      bucket: 'ml-artifacts',
      key: 'models/run-7/model-v2.pt',
      compress: false,
      refused: null,
    },
    {
      ok: true,
      file: '/home/a/run-7/metrics.json',
      name: 'run-7/metrics.json',
      size: 2_000,
      kind: 'results',
      rule: 'results',
      destination: 'primary',
      profiles: ['lab-s3'],
      bucket: 'ml-artifacts',
      key: 'results/run-7/metrics.json',
      compress: true,
      refused: null,
    },
    {
      ok: true,
      file: '/home/a/run-7/debug.log',
      name: 'run-7/debug.log',
      size: 10,
      kind: 'other',
      rule: 'logs',
      destination: 'never',
      profiles: [],
      bucket: 'ml-artifacts',
      key: 'run-7/debug.log',
      compress: false,
      refused: 'rule `logs` keeps it on this machine',
    },
  ],
};

const ev = (op: number, e: Record<string, unknown>) => ({ op, at_ns: 0, ...e }) as unknown as AppEvent;

describe('upload preview', () => {
  it('makes one upload per file and destination profile, as the policy decided', () => {
    const u = planUploads(plan);
    expect(u.map((x) => [x.profile, dest(x), x.state])).toEqual([
      ['lab-s3', 'ml-artifacts/models/run-7/model-v2.pt', 'ready'],
      ['team-supabase', 'ml-artifacts/models/run-7/model-v2.pt', 'ready'],
      ['lab-s3', 'ml-artifacts/results/run-7/metrics.json', 'ready'],
      ['', 'ml-artifacts/run-7/debug.log', 'skipped'],
    ]);
    expect(u[2].compress).toBe(true);
    expect(u[3].note).toContain('keeps it on this machine');
  });

  it('applies the chosen profile and folder to every file', () => {
    const u = planUploads(plan, { profile: 'local', folder: '/shared/exp-1/' });
    expect(u.filter((x) => x.state === 'ready').map((x) => [x.profile, x.key])).toEqual([
      ['local', 'shared/exp-1/model-v2.pt'],
      ['local', 'shared/exp-1/metrics.json'],
    ]);
  });

  it('keeps the key when the folder is blank', () => {
    expect(withFolder('a/b/c.csv', '  ')).toBe('a/b/c.csv');
    expect(withFolder('c.csv', 'x')).toBe('x/c.csv');
  });

  it('shows a file that could not be read as skipped with its error', () => {
    const u = planUploads({
      ...plan,
      files: [{ ok: false, error: { kind: 'not_found', exit_code: 4, message: 'gone.csv: not found', provider: null, bucket: null, key: null, file: '/x/gone.csv', hint: null, retryable: false, failed: null, total: null } }],
    });
    expect(u).toHaveLength(1);
    expect(u[0].state).toBe('skipped');
    expect(u[0].note).toContain('not found');
  });
});

describe('upload progress', () => {
  it('follows each upload by the operation that names its file and profile', () => {
    const u = planUploads(plan);
    u[0].state = 'hashing';
    u[1].state = 'hashing';
    expect(applyEvent(u, ev(7, { event: 'started', id: 0, path: '/home/a/run-7/model-v2.pt', profile: 'team-supabase', bucket: 'b', key: 'k', size: 5_000_000, attempt: 1 }))).toBe(true);
    expect(u[1].op).toBe(7);
    expect(u[0].op).toBeNull();
    applyEvent(u, ev(7, { event: 'progress', id: 0, path: '/home/a/run-7/model-v2.pt', profile: 'team-supabase', bytes: 2_500_000, size: 5_000_000, rate_bps: 1_000_000 }));
    expect([u[1].state, u[1].bytes, u[1].rateBps]).toEqual(['uploading', 2_500_000, 1_000_000]);
    const t = totals(u);
    expect(t.count).toBe(3);
    expect(t.size).toBe(10_002_000);
    expect(t.bytes).toBe(2_500_000);
    expect(t.active).toBe(2);
    applyEvent(u, ev(7, { event: 'done', id: 0, path: '/home/a/run-7/model-v2.pt' }));
    expect(u[1].state).toBe('done');
    expect(totals(u).done).toBe(1);
  });

  it('ignores events of other operations', () => {
    const u = planUploads(plan);
    expect(applyEvent(u, ev(3, { event: 'progress', id: 0, path: '/elsewhere.bin', profile: 'lab-s3', bytes: 1, size: 2, rate_bps: 1 }))).toBe(false);
    expect(u.every((x) => x.op === null)).toBe(true);
  });

  it('marks a cancelled upload', () => {
    const u = planUploads(plan);
    u[2].op = 9;
    u[2].state = 'uploading';
    applyEvent(u, ev(9, { event: 'cancelled' }));
    expect(u[2].state).toBe('cancelled');
    expect(totals(u).active).toBe(0);
  });
});
