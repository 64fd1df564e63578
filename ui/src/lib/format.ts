// How figures read on screen: sizes in binary units, as the CLI prints them.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n == null) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function rate(bps: number): string {
  return `${bytes(bps)}/s`;
}

/** Seconds left at this rate, as `1m 05s`; a dash when unknown. */
export function eta(remaining: number, bps: number): string {
  if (bps <= 0 || remaining <= 0) return '—';
  const s = Math.ceil(remaining / bps);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A time as `Dec 04, 2026, 07:00 PM`; with `day`, the date alone. */
export function date(iso: string | null | undefined, day = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(
    'en-US',
    day
      ? { year: 'numeric', month: 'short', day: '2-digit' }
      : { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' },
  );
}

/** A count with thousands separators: `100,000`. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function metric(v: number | null | undefined): string {
  if (v == null) return '—';
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

/** A signed delta: `+0.0123`, `−0.5`, `0`. */
export function signed(d: number | null | undefined): string {
  if (d == null) return '';
  if (d === 0) return '0';
  const text = metric(Math.abs(d));
  return d > 0 ? `+${text}` : `−${text}`;
}

export function ratio(stored: number, original: number): string {
  if (!original) return '—';
  const pct = (stored / original) * 100;
  return `${pct < 1 ? pct.toFixed(2) : pct.toFixed(0)}%`;
}

/** Dollars as `$1,234.56`; under a cent, `<$0.01`. Estimates are labelled where shown. */
export function usd(v: number): string {
  if (v > 0 && v < 0.005) return '<$0.01';
  return `$${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
