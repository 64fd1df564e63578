// A model's versions compared: the metric diff's rows (changed values flagged, deltas
// signed) and the series a sparkline draws across versions.
import type { MetricDiff, VersionInfo, VersionMetrics } from './types';
import { metric, signed } from './format';

export interface DiffRow {
  metric: string;
  a: string;
  b: string;
  delta: string;
  changed: boolean;
  /** `up`/`down` for numbers that moved, `added`/`removed` for a metric only one has. */
  change: 'same' | 'up' | 'down' | 'added' | 'removed' | 'changed';
}

function show(v: unknown): string {
  if (v == null) return '—';
  if (typeof v === 'number') return metric(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function diffRows(d: MetricDiff): DiffRow[] {
  return d.metrics.map((m) => {
    const a = m.a ?? null;
    const b = m.b ?? null;
    let change: DiffRow['change'];
    if (a === null && b !== null) change = 'added';
    else if (a !== null && b === null) change = 'removed';
    else if (m.delta != null) change = m.delta > 0 ? 'up' : m.delta < 0 ? 'down' : 'same';
    else change = JSON.stringify(a) === JSON.stringify(b) ? 'same' : 'changed';
    return {
      metric: m.metric,
      a: show(a),
      b: show(b),
      delta: m.delta != null ? signed(m.delta) : '',
      changed: change !== 'same',
      change,
    };
  });
}

/** A version's numeric metrics by name. */
export function numbers(m: VersionMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'other') continue;
    if (typeof v === 'number') out[k] = v;
  }
  for (const [k, v] of Object.entries(m.other ?? {})) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Metric names any version records, accuracy and loss first. */
export function metricNames(versions: VersionInfo[]): string[] {
  const names = new Set<string>();
  for (const v of versions) for (const k of Object.keys(numbers(v.metrics))) names.add(k);
  const first = ['accuracy', 'loss'].filter((n) => names.has(n));
  return [...first, ...[...names].filter((n) => !first.includes(n)).sort()];
}

/** One metric across versions, oldest first (versions come newest first). */
export function series(versions: VersionInfo[], name: string): { version: string; value: number }[] {
  return [...versions]
    .reverse()
    .map((v) => ({ version: v.version, value: numbers(v.metrics)[name] }))
    .filter((p): p is { version: string; value: number } => typeof p.value === 'number');
}

/** SVG polyline points for values in a `w`×`h` box (a flat line for equal values). */
export function sparkPoints(values: number[], w: number, h: number, pad = 2): string {
  if (values.length === 0) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const x = pad + i * step;
      const y = max === min ? h / 2 : pad + (h - 2 * pad) * (1 - (v - min) / span);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}
