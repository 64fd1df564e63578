// The window's calls into the app layer: one typed wrapper per Tauri command.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type {
  AppError,
  ArtifactDetail,
  CacheList,
  Cleaned,
  ConnectionTest,
  PolicyCheck,
  PolicyDocument,
  PolicySample,
  PriceTable,
  QueueChange,
  SyncStatus,
  TeamStatus,
  TeamSyncReport,
  TeamMember,
  WatchedFolder,
  ProfileRemoved,
  SaveProfileRequest,
  SavedProfile,
  SecretFieldInfo,
  CostCsvRequest,
  CostFilter,
  CsvExport,
  Dashboard,
  DeleteVersionsResult,
  DropPlan,
  DropRequest,
  GetRequest,
  GetResult,
  Labelled,
  LibraryPage,
  LibraryQuery,
  MetricDiff,
  ProfileList,
  PutRequest,
  PutResult,
  RestoreRequest,
  RestoreResult,
  UrlRead,
  UrlRequest,
} from './types';

export const APP_EVENT = 'stowage://event';
export const DROP_EVENT = 'stowage://drop';
export const THEME_EVENT = 'stowage://theme';

/** An error as the app layer describes it; anything else (a broken IPC) made into one. */
export function asAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'message' in e && 'kind' in e) return e as AppError;
  return {
    kind: 'internal',
    exit_code: 1,
    message: String(e),
    provider: null,
    bucket: null,
    key: null,
    file: null,
    hint: null,
    retryable: false,
    failed: null,
    total: null,
  };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw asAppError(e);
  }
}

export const api = {
  library: (query: LibraryQuery) => call<LibraryPage>('library', { query }),
  artifact: (id: number) => call<ArtifactDetail>('artifact', { id }),
  metricDiff: (a: string, b: string, org: string | null) =>
    call<MetricDiff>('metric_diff', { a, b, org }),
  dashboard: (filter: CostFilter) => call<Dashboard>('dashboard', { filter }),
  exportCostCsv: (request: CostCsvRequest) => call<CsvExport>('export_cost_csv', { request }),
  dropPlan: (request: DropRequest) => call<DropPlan>('drop_plan', { request }),
  put: (request: PutRequest) => call<PutResult>('put', { request }),
  get: (request: GetRequest) => call<GetResult>('get', { request }),
  restore: (request: RestoreRequest) => call<RestoreResult>('restore', { request }),
  label: (spec: string, name: string, org: string | null) =>
    call<Labelled>('label', { spec, name, org }),
  deleteVersions: (specs: string[], org: string | null) =>
    call<DeleteVersionsResult>('delete_versions', { specs, org }),
  shareUrl: (request: UrlRequest) => call<UrlRead>('share_url', { request }),
  cancel: (op: number) => call<boolean>('cancel', { op }),
  profiles: () => call<ProfileList>('profiles'),
  reveal: (path: string) => call<null>('reveal', { path }),
  testProfile: (name: string) => call<ConnectionTest>('test_profile', { name }),
  secretFields: (kind: string) => call<SecretFieldInfo[]>('secret_fields', { kind }),
  saveProfile: (request: SaveProfileRequest) => call<SavedProfile>('save_profile', { request }),
  removeProfile: (name: string) => call<ProfileRemoved>('remove_profile', { name }),
  syncStatus: (states: string[], limit: number) => call<SyncStatus>('sync_status', { states, limit }),
  addFolder: (path: string, org: string | null) => call<WatchedFolder>('add_folder', { path, org }),
  removeFolder: (path: string) => call<WatchedFolder>('remove_folder', { path }),
  pauseFolder: (path: string, paused: boolean) => call<WatchedFolder>('pause_folder', { path, paused }),
  startSync: () => call<null>('start_sync'),
  stopSync: () => call<null>('stop_sync'),
  queueRetry: (id: number | null) => call<QueueChange>('queue_retry', { id }),
  queueCancel: (id: number) => call<QueueChange>('queue_cancel', { id }),
  autostart: (enabled: boolean | null) => call<boolean>('autostart', { enabled }),
  cache: () => call<CacheList>('cache'),
  cacheClean: (all: boolean) => call<Cleaned>('cache_clean', { all }),
  policyDocument: () => call<PolicyDocument>('policy_document'),
  checkPolicy: (text: string, samples: PolicySample[]) => call<PolicyCheck>('check_policy', { text, samples }),
  savePolicy: (text: string) => call<PolicyDocument>('save_policy', { text }),
  prices: () => call<PriceTable>('prices'),
  setPrices: (prices: PriceTable) => call<PriceTable>('set_prices', { prices }),
  teamStatus: () => call<TeamStatus>('team_status'),
  teamSync: () => call<TeamSyncReport>('team_sync'),
  teamMembers: () => call<TeamMember[]>('team_members'),
  setSyncProfiles: (primary: string | null, secondary: string | null) =>
    call<ProfileList>('set_sync_profiles', { primary, secondary }),
};

/** Follow the desktop's colour scheme (the app reads the desktop portal, which WebKitGTK
 * does not); with no answer, the page's own `prefers-color-scheme` applies. */
export function followTheme(root: HTMLElement = document.documentElement) {
  const apply = (t: string | null) => {
    if (t === 'dark' || t === 'light') root.dataset.theme = t;
    else delete root.dataset.theme;
  };
  call<string | null>('color_scheme').then(apply, () => apply(null));
  void listen<string | null>(THEME_EVENT, (e) => apply(e.payload));
}
