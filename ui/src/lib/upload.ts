// The upload preview and its progress: what the policy decided per dropped file (from the
// app layer's drop plan), the user's changes (profile, folder), and each upload's state as
// the app layer's events report it.
import type { AppError, AppEvent, DropPlan } from './types';

export type UploadState = 'ready' | 'hashing' | 'uploading' | 'done' | 'failed' | 'cancelled' | 'skipped';

export interface Upload {
  /** Position in the list. */
  id: number;
  file: string;
  name: string;
  size: number;
  kind: string;
  rule: string;
  destination: string;
  profile: string;
  bucket: string;
  key: string;
  compress: boolean;
  state: UploadState;
  bytes: number;
  rateBps: number;
  op: number | null;
  error: AppError | null;
  /** Why it is not uploaded (policy or an unreadable file). */
  note: string | null;
}

export interface Choice {
  /** Upload everything to this profile instead of the policy's. */
  profile?: string | null;
  /** Store under this folder instead of the policy's (the file name is kept). */
  folder?: string | null;
}

/** `folder/name` from `key` with its folder replaced; the key itself when no folder given. */
export function withFolder(key: string, folder: string | null | undefined): string {
  const f = (folder ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (!f) return key;
  const name = key.slice(key.lastIndexOf('/') + 1);
  return `${f}/${name}`;
}

/** The uploads a plan makes under the user's choice: one per file and profile. */
export function planUploads(plan: DropPlan, choice: Choice = {}): Upload[] {
  const out: Upload[] = [];
  for (const item of plan.files) {
    const base = { bytes: 0, rateBps: 0, op: null, error: null };
    if (!item.ok) {
      out.push({
        ...base,
        id: out.length,
        file: item.error.file ?? '',
        name: item.error.file ?? '',
        size: 0,
        kind: '',
        rule: '',
        destination: '',
        profile: '',
        bucket: '',
        key: '',
        compress: false,
        state: 'skipped',
        note: item.error.message,
      });
      continue;
    }
    const profiles = item.refused ? [''] : choice.profile ? [choice.profile] : item.profiles;
    for (const profile of profiles) {
      out.push({
        ...base,
        id: out.length,
        file: item.file,
        name: item.name,
        size: item.size,
        kind: item.kind,
        rule: item.rule,
        destination: item.destination,
        profile,
        bucket: item.bucket,
        key: withFolder(item.key, choice.folder),
        compress: item.compress,
        state: item.refused ? 'skipped' : 'ready',
        note: item.refused,
      });
    }
  }
  return out;
}

/** Where `put` stores an upload: `BUCKET/KEY`. */
export function dest(u: Upload): string {
  return `${u.bucket}/${u.key}`;
}

/** Apply one app-layer event to the uploads; whether anything changed. */
export function applyEvent(uploads: Upload[], e: AppEvent): boolean {
  // An upload learns its operation's id from the first event that names its file.
  const waiting = (x: Upload) => x.op === null && (x.state === 'ready' || x.state === 'hashing');
  let u = uploads.find((x) => x.op === e.op);
  if (!u && 'path' in e && 'profile' in e) {
    u = uploads.find((x) => waiting(x) && x.file === e.path && x.profile === e.profile);
    if (u) u.op = e.op;
  }
  if (!u && e.event === 'hashing') {
    u = uploads.find((x) => waiting(x) && x.file === e.path);
    if (u) u.op = e.op;
  }
  if (!u) return false;
  switch (e.event) {
    case 'hashing':
      u.state = 'hashing';
      u.bytes = e.bytes;
      return true;
    case 'started':
      u.state = 'uploading';
      return true;
    case 'progress':
      u.state = 'uploading';
      u.bytes = e.bytes;
      u.rateBps = e.rate_bps;
      return true;
    case 'done':
    case 'verified':
      u.state = 'done';
      u.bytes = u.size;
      return true;
    case 'cancelled':
      u.state = 'cancelled';
      return true;
    default:
      return false;
  }
}

export interface Totals {
  bytes: number;
  size: number;
  rateBps: number;
  done: number;
  failed: number;
  active: number;
  count: number;
}

export function totals(uploads: Upload[]): Totals {
  const t: Totals = { bytes: 0, size: 0, rateBps: 0, done: 0, failed: 0, active: 0, count: 0 };
  for (const u of uploads) {
    if (u.state === 'skipped') continue;
    t.count++;
    t.size += u.size;
    t.bytes += u.state === 'done' ? u.size : u.bytes;
    if (u.state === 'uploading' || u.state === 'hashing') {
      t.active++;
      t.rateBps += u.rateBps;
    }
    if (u.state === 'done') t.done++;
    if (u.state === 'failed') t.failed++;
  }
  return t;
}
