import { describe, expect, it } from 'vitest';
import { diffRows, metricNames, series, sparkPoints } from './diff';
import { signed } from './format';
import type { MetricDiff, VersionInfo } from './types';

const version = (v: string, metrics: Partial<VersionInfo['metrics']>): VersionInfo =>
  ({
    version: v,
    metrics: { accuracy: null, loss: null, epochs: null, model_type: null, dataset_count: null, training_split: null, other: {}, ...metrics },
  }) as VersionInfo;

describe('metric diff', () => {
  it('flags what changed, with signed deltas', () => {
    const d: MetricDiff = {
      a: 'credit_risk@v1',
      b: 'credit_risk@v2',
      metrics: [
        { metric: 'accuracy', a: 0.91, b: 0.935, delta: 0.025 },
        { metric: 'epochs', a: 10, b: 10, delta: 0 },
        { metric: 'loss', a: 0.3, b: 0.21, delta: -0.09 },
        { metric: 'model_type', a: 'xgboost', b: 'lightgbm', delta: null },
        { metric: 'f1', a: null, b: 0.8, delta: null },
      ],
    };
    const rows = diffRows(d);
    expect(rows.map((r) => [r.metric, r.change, r.delta, r.changed])).toEqual([
      ['accuracy', 'up', '+0.025', true],
      ['epochs', 'same', '0', false],
      ['loss', 'down', '−0.09', true],
      ['model_type', 'changed', '', true],
      ['f1', 'added', '', true],
    ]);
    expect(rows[4].a).toBe('—');
  });

  it('signs deltas', () => {
    expect(signed(0.5)).toBe('+0.5');
    expect(signed(-2)).toBe('−2');
    expect(signed(0)).toBe('0');
  });
});

describe('metrics across versions', () => {
  const versions = [
    version('v3', { accuracy: 0.95, other: { f1: 0.9 } }),
    version('v2', { accuracy: 0.9, loss: 0.2 }),
    version('v1', { accuracy: 0.8, loss: 0.4 }),
  ];

  it('lists accuracy and loss first, then the rest by name', () => {
    expect(metricNames(versions)).toEqual(['accuracy', 'loss', 'f1']);
  });

  it('orders a series oldest first and skips versions without the metric', () => {
    expect(series(versions, 'accuracy').map((p) => p.version)).toEqual(['v1', 'v2', 'v3']);
    expect(series(versions, 'loss').map((p) => p.value)).toEqual([0.4, 0.2]);
  });

  it('draws the highest value at the top of the sparkline', () => {
    const pts = sparkPoints([0.8, 0.9, 0.95], 100, 20, 0)
      .split(' ')
      .map((p) => p.split(',').map(Number));
    expect(pts[0]).toEqual([0, 20]);
    expect(pts[2]).toEqual([100, 0]);
    expect(sparkPoints([1, 1], 100, 20)).toBe('2.0,10.0 98.0,10.0');
  });
});
