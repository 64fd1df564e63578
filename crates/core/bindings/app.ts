// The app layer's types, generated from the Rust types in crates/core by the test
// `app::tests::typescript_declarations_match_the_rust_types`; do not edit. Refresh:
// STOWAGE_UPDATE_BINDINGS=1 cargo test -p stowage-core --lib typescript_declarations
// Integers are JSON numbers (sizes stay below 2^53).

export type AppError = { 
/**
 * A stable name: usage, config, not_found, already_exists, conflict, unauthorized,
 * unavailable, too_large, invalid_key, integrity, not_supported, cancelled, waiting,
 * other.
 */
kind: string, 
/**
 * The process exit code the CLI ends with (see `stowage --help`).
 */
exit_code: number, 
/**
 * The whole message: names the file, the provider and the next step.
 */
message: string, 
/**
 * The provider (`s3`, `supabase`, `local`, `local file`…), for store errors.
 */
provider: string | null, 
/**
 * The bucket involved.
 */
bucket: string | null, 
/**
 * The key involved.
 */
key: string | null, 
/**
 * The local file involved.
 */
file: string | null, 
/**
 * What to do next.
 */
hint: string | null, 
/**
 * Whether the same action may succeed later unchanged (the provider was unreachable).
 */
retryable: boolean, 
/**
 * For a batch: how many items failed.
 */
failed: number | null, 
/**
 * For a batch: how many items were attempted.
 */
total: number | null, };

export type OpId = number;

export type AppEvent = { 
/**
 * The operation.
 */
op: OpId, } & ({ "event": "began", 
/**
 * The action.
 */
action: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "ended", 
/**
 * Whether it succeeded as a whole.
 */
ok: boolean, 
/**
 * Its error's message, when it failed.
 */
error: string | null, 
/**
 * When.
 */
at_ns: number, } | { "event": "cancelled", 
/**
 * When.
 */
at_ns: number, } | { "event": "hashing", 
/**
 * The item.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * Bytes hashed so far.
 */
bytes: number, 
/**
 * Bytes in all.
 */
size: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "done", 
/**
 * The item.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "queued", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * `primary` or `secondary`.
 */
role: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "started", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * This attempt's number (1 for the first).
 */
attempt: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "progress", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * Bytes sent so far, in this attempt (resumed bytes included).
 */
bytes: number, 
/**
 * The file's size.
 */
size: number, 
/**
 * Bytes per second moved in this attempt so far (resumed bytes not counted).
 */
rate_bps: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "verified", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * Bytes stored (smaller when gzipped).
 */
stored_size: number, 
/**
 * SHA-256 of the stored bytes.
 */
sha256: string, 
/**
 * The version recorded.
 */
version: string, 
/**
 * Bytes the provider already held from an interrupted upload.
 */
resumed_from: number, 
/**
 * The object was already there from an upload that finished before a crash: only
 * recorded, nothing sent.
 */
already_stored: boolean, 
/**
 * When.
 */
at_ns: number, } | { "event": "recorded", 
/**
 * The local file.
 */
path: string, 
/**
 * The version.
 */
version: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "failed", 
/**
 * Queue row.
 */
id: number | null, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The message (names file, provider and next step).
 */
error: string, 
/**
 * The error's kind.
 */
kind: string, 
/**
 * Attempts made.
 */
attempt: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "retried", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The message.
 */
error: string, 
/**
 * Attempts counted so far.
 */
attempt: number, 
/**
 * Milliseconds until it is due (while its provider is down, it waits for it).
 */
retry_in_ms: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "superseded", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * Why.
 */
reason: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "provider_down", 
/**
 * The profile.
 */
profile: string, 
/**
 * What failed.
 */
error: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "provider_up", 
/**
 * The profile.
 */
profile: string, 
/**
 * How long it was down.
 */
down_ms: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "problem", 
/**
 * The file.
 */
path: string, 
/**
 * The message.
 */
error: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "scan_done", 
/**
 * When.
 */
at_ns: number, } | { "event": "idle", 
/**
 * Rows done so far in this run.
 */
done: number, 
/**
 * Rows failed for good in this run.
 */
failed: number, 
/**
 * When.
 */
at_ns: number, });

export type Event = { "event": "began", 
/**
 * The action.
 */
action: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "ended", 
/**
 * Whether it succeeded as a whole.
 */
ok: boolean, 
/**
 * Its error's message, when it failed.
 */
error: string | null, 
/**
 * When.
 */
at_ns: number, } | { "event": "cancelled", 
/**
 * When.
 */
at_ns: number, } | { "event": "hashing", 
/**
 * The item.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * Bytes hashed so far.
 */
bytes: number, 
/**
 * Bytes in all.
 */
size: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "done", 
/**
 * The item.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "queued", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * `primary` or `secondary`.
 */
role: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "started", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * This attempt's number (1 for the first).
 */
attempt: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "progress", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * Bytes sent so far, in this attempt (resumed bytes included).
 */
bytes: number, 
/**
 * The file's size.
 */
size: number, 
/**
 * Bytes per second moved in this attempt so far (resumed bytes not counted).
 */
rate_bps: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "verified", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size.
 */
size: number, 
/**
 * Bytes stored (smaller when gzipped).
 */
stored_size: number, 
/**
 * SHA-256 of the stored bytes.
 */
sha256: string, 
/**
 * The version recorded.
 */
version: string, 
/**
 * Bytes the provider already held from an interrupted upload.
 */
resumed_from: number, 
/**
 * The object was already there from an upload that finished before a crash: only
 * recorded, nothing sent.
 */
already_stored: boolean, 
/**
 * When.
 */
at_ns: number, } | { "event": "recorded", 
/**
 * The local file.
 */
path: string, 
/**
 * The version.
 */
version: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "failed", 
/**
 * Queue row.
 */
id: number | null, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The message (names file, provider and next step).
 */
error: string, 
/**
 * The error's kind.
 */
kind: string, 
/**
 * Attempts made.
 */
attempt: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "retried", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The message.
 */
error: string, 
/**
 * Attempts counted so far.
 */
attempt: number, 
/**
 * Milliseconds until it is due (while its provider is down, it waits for it).
 */
retry_in_ms: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "superseded", 
/**
 * Queue row.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * Why.
 */
reason: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "provider_down", 
/**
 * The profile.
 */
profile: string, 
/**
 * What failed.
 */
error: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "provider_up", 
/**
 * The profile.
 */
profile: string, 
/**
 * How long it was down.
 */
down_ms: number, 
/**
 * When.
 */
at_ns: number, } | { "event": "problem", 
/**
 * The file.
 */
path: string, 
/**
 * The message.
 */
error: string, 
/**
 * When.
 */
at_ns: number, } | { "event": "scan_done", 
/**
 * When.
 */
at_ns: number, } | { "event": "idle", 
/**
 * Rows done so far in this run.
 */
done: number, 
/**
 * Rows failed for good in this run.
 */
failed: number, 
/**
 * When.
 */
at_ns: number, };

export type Item<T> = (T & { ok: true }) | { ok: false, error: AppError };

export type PutRequest = { 
/**
 * Local files or folders.
 */
files: Array<string>, 
/**
 * `BUCKET`, `BUCKET/KEY` or `BUCKET/FOLDER/`.
 */
dest: string, 
/**
 * Pack each folder as one `.tar.gz` first.
 */
archive: boolean, 
/**
 * Replace existing objects.
 */
overwrite: boolean, 
/**
 * Content type to record for every file.
 */
content_type: string | null, 
/**
 * Gzip every file (true), none (false), or as the policy decides (None).
 */
compress: boolean | null, 
/**
 * Check and report, change nothing.
 */
dry_run: boolean, 
/**
 * The profile to upload to [default: the selected one].
 */
profile: string | null, };

export type PutResult = { 
/**
 * Each upload.
 */
uploaded: Array<Item<PutOutcome>>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * Things the user should know (a key other tools may not handle, a catalog that could
 * not record).
 */
warnings: Array<string>, };

export type GetRequest = { 
/**
 * `BUCKET/KEY` or, with `recursive`, `BUCKET/FOLDER/`.
 */
src: string, 
/**
 * The local file or folder [default: the key's name in the current folder].
 */
dest: string | null, 
/**
 * Every object under a folder.
 */
recursive: boolean, 
/**
 * Keep gzipped objects as stored.
 */
raw: boolean, 
/**
 * Unpack a `.tar.gz` into a folder.
 */
extract: boolean, 
/**
 * Replace existing local files.
 */
force: boolean, 
/**
 * Check and report, write nothing.
 */
dry_run: boolean, };

export type GetResult = { 
/**
 * Each download.
 */
downloaded: Array<Item<GetOutcome>>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * Copies that failed before one served (each names provider and error).
 */
warnings: Array<string>, 
/**
 * Where reads were served from when not from the profile (`FILE: served from the
 * local cache`).
 */
notes: Array<string>, };

export type Extracted = { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The archive's key.
 */
key: string, 
/**
 * The folder it was unpacked into.
 */
folder: string, 
/**
 * The archive's stored size (None in a dry run).
 */
size: number | null, };

export type ExtractResult = { 
/**
 * The archive.
 */
extracted: Array<Item<Extracted>>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type LsResult = { 
/**
 * The buckets.
 */
buckets: Array<Bucket>, } | { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The folder listed.
 */
prefix: string, 
/**
 * Whether every object below was listed.
 */
recursive: boolean, 
/**
 * What is there.
 */
entries: Array<Entry>, };

export type RmResult = { 
/**
 * Each removal.
 */
removed: Array<Item<RemoveOutcome>>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * A catalog that could not record it.
 */
warnings: Array<string>, };

export type Copied = { 
/**
 * A catalog that could not record it.
 */
warnings: Array<string>, 
/**
 * The source.
 */
from: string, 
/**
 * The destination.
 */
to: string, 
/**
 * Whether the source was removed (a move).
 */
moved: boolean, 
/**
 * Whether an existing destination is (or would be) replaced.
 */
replaced: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type UrlRequest = { 
/**
 * `BUCKET/KEY`.
 */
path: string, 
/**
 * Sign an upload (PUT) instead of a download.
 */
put: boolean, 
/**
 * How long it lasts: `1h`, `30m`, `7d`.
 */
expires: string, };

export type BucketCreated = { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * Whether it is public.
 */
public: boolean, 
/**
 * Whether it was created (false in a dry run).
 */
created: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * The provider it lives on.
 */
provider: string, };

export type BucketDeleted = { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * Whether it was deleted (false in a dry run).
 */
deleted: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * The provider it lived on.
 */
provider: string, };

export type BucketList = { 
/**
 * The buckets.
 */
buckets: Array<Bucket>, 
/**
 * The provider they live on.
 */
provider: string, };

export type VersionsRequest = { 
/**
 * A family (every artifact of that name), or an artifact's name
 * (`generations/gen-001/main.py`); every version when None.
 */
family: string | null, 
/**
 * Only this organization.
 */
org: string | null, 
/**
 * Metric conditions like `accuracy>0.9`, all of which must hold.
 */
filters: Array<string>, 
/**
 * `version` (default), `created`, `accuracy` or `loss`.
 */
sort: string | null, 
/**
 * At most this many.
 */
limit: number | null, 
/**
 * Only this user's versions (`me`), or everyone's the catalog holds (`team`, default).
 */
scope: Scope, };

export type VersionList = { 
/**
 * The versions.
 */
versions: Array<VersionInfo>, };

export type DeletedVersion = { 
/**
 * The artifact's name.
 */
artifact: string, 
/**
 * The version.
 */
version: string, 
/**
 * The objects deleted: `profile:bucket/key`.
 */
objects: Array<string>, 
/**
 * Stored bytes freed.
 */
bytes: number, };

export type DeleteVersionsResult = { 
/**
 * Each version.
 */
deleted: Array<Item<DeletedVersion>>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type RestoreRequest = { 
/**
 * `FAMILY`, `FAMILY@VERSION` or `FAMILY@LABEL`.
 */
spec: string, 
/**
 * The file or folder to restore into [default: the source file's name here].
 */
dest: string | null, 
/**
 * Only this organization.
 */
org: string | null, 
/**
 * Replace an existing file.
 */
force: boolean, 
/**
 * Check and report, write nothing.
 */
dry_run: boolean, };

export type RestoreResult = { 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * The family.
 */
family: string, 
/**
 * The version.
 */
version: string, 
/**
 * The file written.
 */
file: string, 
/**
 * Bytes written (the original size).
 */
size: number, 
/**
 * SHA-256 of what was written, equal to the recorded one.
 */
sha256: string, 
/**
 * Whether it was stored gzipped (and so decompressed).
 */
decompressed: boolean, 
/**
 * `cache`, `primary`, `secondary` or `other` (a further recorded location).
 */
source: string, 
/**
 * `cache`, or `profile:bucket/key`.
 */
from: string, 
/**
 * Failed attempts before it, each naming the provider and the error.
 */
warnings: Array<string>, };

export type Labelled = { 
/**
 * The family.
 */
family: string, 
/**
 * The version.
 */
version: string, 
/**
 * The label.
 */
label: string, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type GcResult = { 
/**
 * The versions removed, with their objects.
 */
removed: Array<Collected>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type ArtifactDetail = { 
/**
 * The artifact's row id.
 */
id: number, 
/**
 * Its name: folder, family and extension.
 */
name: string, 
/**
 * Its organization.
 */
org: string | null, 
/**
 * The family.
 */
family: string, 
/**
 * The kind.
 */
kind: string, 
/**
 * The framework.
 */
framework: string | null, 
/**
 * Every version, newest first, with locations, labels and metrics.
 */
versions: Array<VersionInfo>, };

export type MetricChange = { 
/**
 * The metric.
 */
metric: string, 
/**
 * Its value in the first version.
 */
a: JsonValue | null, 
/**
 * Its value in the second.
 */
b: JsonValue | null, 
/**
 * `b - a` for numbers.
 */
delta: number | null, };

export type MetricDiff = { 
/**
 * The first version (`FAMILY@VERSION`).
 */
a: string, 
/**
 * The second.
 */
b: string, 
/**
 * Every metric either records, in name order.
 */
metrics: Array<MetricChange>, };

export type LibraryQuery = { 
/**
 * Only this kind (`model`, `dataset`, …).
 */
kind: string | null, 
/**
 * Only this organization.
 */
org: string | null, 
/**
 * Text the artifact's name (folder, family, extension) contains.
 */
search: string | null, 
/**
 * Only artifacts with a copy on this kind of provider (`local`, `s3`, `supabase`; an S3
 * kind takes in every endpoint), or on this one provider (`s3 (127.0.0.1:8333)`).
 */
provider: string | null, 
/**
 * Only artifacts with a copy on this profile.
 */
profile: string | null, 
/**
 * Only artifacts with a version carrying this label.
 */
label: string | null, 
/**
 * At least this many stored bytes (all versions).
 */
min_size: number | null, 
/**
 * At most this many stored bytes.
 */
max_size: number | null, 
/**
 * Updated at or after this time (RFC 3339).
 */
updated_after: string | null, 
/**
 * Updated at or before this time (RFC 3339).
 */
updated_before: string | null, 
/**
 * The latest version's accuracy at least this.
 */
min_accuracy: number | null, 
/**
 * The latest version's accuracy at most this.
 */
max_accuracy: number | null, 
/**
 * The latest version's loss at least this.
 */
min_loss: number | null, 
/**
 * The latest version's loss at most this.
 */
max_loss: number | null, 
/**
 * Only artifacts with a version of this user's, or everyone's.
 */
scope: Scope, 
/**
 * The order.
 */
sort: LibrarySort, 
/**
 * Descending (true) or ascending (false); None: the sort's natural direction (names
 * A→Z, loss lowest first, other figures and dates highest first).
 */
desc: boolean | null, 
/**
 * Rows to skip.
 */
offset: number, 
/**
 * Rows to return (1 to 1,000).
 */
limit: number, };

export type LibrarySort = "name" | "kind" | "org" | "updated" | "size" | "original" | "versions" | "accuracy" | "loss";

export type LibraryRow = { 
/**
 * The artifact's row id.
 */
id: number, 
/**
 * Its name: folder, family and extension.
 */
name: string, 
/**
 * Its organization.
 */
org: string | null, 
/**
 * The family.
 */
family: string, 
/**
 * The kind.
 */
kind: string, 
/**
 * The framework.
 */
framework: string | null, 
/**
 * How many versions it has.
 */
versions: number, 
/**
 * Its newest version's tag.
 */
latest: string, 
/**
 * Its newest version's row id.
 */
latest_id: number, 
/**
 * When its newest version was recorded.
 */
updated_at: string, 
/**
 * Stored bytes over all versions.
 */
stored_bytes: number, 
/**
 * Original bytes over all versions.
 */
original_bytes: number, 
/**
 * Stored copies over all versions (0: local only).
 */
locations: number, 
/**
 * The profiles holding copies.
 */
profiles: Array<string>, 
/**
 * The kinds of provider holding copies (`local`, `s3`, `supabase`).
 */
providers: Array<string>, 
/**
 * The labels on its versions.
 */
labels: Array<string>, 
/**
 * The latest version's accuracy.
 */
accuracy: number | null, 
/**
 * The latest version's loss.
 */
loss: number | null, };

export type LibraryPage = { 
/**
 * Artifacts that match, in all.
 */
total: number, 
/**
 * The first row's position.
 */
offset: number, 
/**
 * The rows.
 */
rows: Array<LibraryRow>, };

export type Explained = { 
/**
 * The file as given.
 */
file: string, 
/**
 * The path the policy matched (relative to the current folder, `/`-separated).
 */
path: string, matched: string, detected_kind: Kind, detected_by: string | null, skipped: Array<SkippedRule>, 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * What the file is.
 */
kind: Kind, 
/**
 * Where it goes.
 */
destination: Destination, 
/**
 * `{org}/{folder}{file name}` when uploaded; the compression step appends `.gz`.
 */
key: string | null, 
/**
 * Whether to gzip it on the way up.
 */
compress: boolean, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * Why an uploading rule produced no key (the name cannot be a valid key); the caller
 * must refuse the file with this message.
 */
key_error: string | null, };

export type ExplainResult = { 
/**
 * The policy file (None: the built-in defaults).
 */
policy: string | null, 
/**
 * Each file's decision.
 */
files: Array<Item<Explained>>, };

export type SyncRequest = { 
/**
 * The project folder.
 */
dir: string, 
/**
 * Organization prefix for keys [default: the profile's, else the policy's].
 */
org: string | null, 
/**
 * Create missing buckets.
 */
create_bucket: boolean, 
/**
 * Plan and check, change nothing.
 */
dry_run: boolean, };

export type SyncResult = { 
/**
 * The folder.
 */
dir: string, 
/**
 * The organization prefix.
 */
org: string | null, 
/**
 * Every file and what sync would do with it.
 */
plan: Array<PlannedFile>, 
/**
 * What the real run would meet.
 */
problems: Array<Problem>, 
/**
 * Always true.
 */
dry_run: boolean, } | { 
/**
 * Per file, with totals.
 */
sync: SyncReport, 
/**
 * Objects uploaded.
 */
uploaded: number, 
/**
 * Always false.
 */
dry_run: boolean, };

export type WatchRequest = { 
/**
 * Folders to watch, registered as projects [default: every registered project].
 */
dirs: Array<string>, 
/**
 * Stop once the start-up scan is done, nothing waits to settle and the queue is empty.
 */
exit_when_idle: boolean, 
/**
 * With `exit_when_idle`: how long to wait for a provider that is down (`60s`).
 */
wait_down: string | null, 
/**
 * Organization prefix for keys of the folders given.
 */
org: string | null, };

export type Watching = { 
/**
 * The folders.
 */
roots: Array<string>, 
/**
 * The profiles written to: the primary, then the secondary.
 */
profiles: Array<string>, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * How long a file must be quiet before it is uploaded.
 */
settle_ms: number, 
/**
 * Rows queued or running when it started.
 */
pending: number, };

export type WatchResult = { 
/**
 * The run's totals.
 */
watch: Summary, };

export type QueueList = { 
/**
 * The rows, newest first.
 */
rows: Array<Row>, 
/**
 * Rows per state.
 */
counts: Counts, 
/**
 * Each provider's health.
 */
health: Array<Health>, };

export type QueueChange = { 
/**
 * Rows queued again.
 */
retried: number | null, 
/**
 * The row retried.
 */
row: Row | null, 
/**
 * The row cancelled.
 */
cancelled: Row | null, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type ProfileEntry = { 
/**
 * Where its credentials come from.
 */
credentials: string, 
/**
 * Whether it is the one commands use now.
 */
selected: boolean, 
/**
 * Where it is defined: `built in`, or the config file.
 */
defined_in: string, 
/**
 * Its name.
 */
name: string, 
/**
 * Where it was defined.
 */
source: ProfileSource, 
/**
 * The organization this profile is bound to (`org = "acme"`): it can address only keys
 * under `acme/` (see `stowage_store::org`). One plain key segment.
 */
org: string | null, } & ({ "kind": "local" } & LocalProfile | { "kind": "s3" } & S3Profile | { "kind": "supabase" } & SupabaseProfile);

export type ProfileList = { 
/**
 * The config file.
 */
config_file: string, 
/**
 * Whether it exists (else only the built-in profile is there).
 */
config_file_exists: boolean, 
/**
 * The profile commands use now.
 */
selected: string | null, 
/**
 * Why it was selected.
 */
selected_by: Selection | null, 
/**
 * Why none could be selected.
 */
selection_error: string | null, 
/**
 * Every profile.
 */
profiles: Array<ProfileEntry>, 
/**
 * Where `sync`, `watch` and the window's auto-sync upload: `[sync]` primary (None: the
 * selected profile) and secondary (None: no second copy).
 */
sync_primary: string | null, 
/**
 * The second copy's profile.
 */
sync_secondary: string | null, };

export type ConnectionTest = { 
/**
 * The profile.
 */
profile: string, 
/**
 * Its kind.
 */
kind: string, 
/**
 * Whether its store answered a bucket listing.
 */
ok: boolean, 
/**
 * Buckets it listed.
 */
buckets: number | null, 
/**
 * How long the listing took, in milliseconds.
 */
millis: number, 
/**
 * Where its credentials come from.
 */
credentials: string, 
/**
 * Why it failed.
 */
error: AppError | null, };

export type MigrateRequest = { 
/**
 * The profile to copy from.
 */
from: string, 
/**
 * The profile to copy to.
 */
to: string, 
/**
 * Only this source bucket.
 */
bucket: string | null, 
/**
 * The target bucket [default: the source bucket's name].
 */
to_bucket: string | null, 
/**
 * Only keys matching this glob.
 */
filter: string | null, 
/**
 * Every object in the source bucket, not only what the catalog records there.
 */
all_objects: boolean, 
/**
 * Delete each source object once its copy is verified.
 */
delete_source: boolean, 
/**
 * Objects in flight at once.
 */
concurrency: number, 
/**
 * Plan and check, change nothing.
 */
dry_run: boolean, };

export type MigrateSummary = { 
/**
 * Objects copied.
 */
copied: number, 
/**
 * Objects already on the target.
 */
skipped: number, 
/**
 * Objects a dry run would copy.
 */
planned: number, 
/**
 * Objects that failed.
 */
failed: number, 
/**
 * Source objects deleted after their copy was verified.
 */
source_deleted: number, 
/**
 * Bytes that crossed the network through Stowage.
 */
bytes_moved: number, };

export type MigrateResult = { 
/**
 * Each object.
 */
migrated: Array<Item<MigrateOutcome>>, 
/**
 * The totals.
 */
summary: MigrateSummary, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type VerifyResult = { 
/**
 * Files stored by a rule the policy no longer gives.
 */
policy_changes: Array<PolicyChange>, 
/**
 * Locations checked.
 */
checked: number, 
/**
 * Locations that matched.
 */
ok: number, 
/**
 * Everything that did not.
 */
problems: Array<VerifyProblem>, 
/**
 * Problems repaired.
 */
fixed: number, 
/**
 * Whether this was only a check (`fix` with `dry_run` repairs nothing).
 */
dry_run: boolean, };

export type CacheList = { 
/**
 * The cache folder.
 */
dir: string, 
/**
 * Every entry.
 */
entries: Array<CacheEntry>, 
/**
 * Bytes held.
 */
total: number, 
/**
 * The cap.
 */
max_size: number, 
/**
 * How long an entry serves reads.
 */
ttl_secs: number, };

export type AddProfileRequest = { 
/**
 * Its name: letters, digits, `-`, `_` and `.`.
 */
name: string, 
/**
 * The provider kind: `local`, `s3` or `supabase`.
 */
kind: string, 
/**
 * Local: the folder holding one directory per bucket.
 */
root: string | null, 
/**
 * S3: the endpoint URL (omit for AWS).
 */
endpoint: string | null, 
/**
 * S3: the region.
 */
region: string | null, 
/**
 * S3: path-style addressing.
 */
path_style: boolean, 
/**
 * S3: a profile of `~/.aws/config` to take credentials from.
 */
aws_profile: string | null, 
/**
 * Supabase: the project URL.
 */
url: string | null, 
/**
 * S3 and Supabase: refuse uploads above this many bytes.
 */
max_object_size: number | null, 
/**
 * Bind the profile to an organization.
 */
org: string | null, 
/**
 * Also make it the default profile.
 */
make_default: boolean, 
/**
 * Replace the profile of that name (editing it; its keyring entries stay).
 */
replace: boolean, 
/**
 * Check and report, change nothing.
 */
dry_run: boolean, };

export type SecretFieldInfo = { 
/**
 * The field.
 */
field: Field, 
/**
 * Words for the form: `secret access key`.
 */
label: string, 
/**
 * Whether its value is shown masked (the access key id is not).
 */
secret: boolean, 
/**
 * The environment variable that supplies it when the keyring has none.
 */
env_var: string, };

export type SecretValue = { 
/**
 * Which field.
 */
field: Field, 
/**
 * The value.
 */
value: string, };

export type SaveProfileRequest = { 
/**
 * The profile's settings.
 */
profile: AddProfileRequest, 
/**
 * Its secrets; none keeps what the keyring holds.
 */
secrets: Array<SecretValue>, };

export type SavedProfile = { 
/**
 * The profile as written.
 */
added: AddedProfile, 
/**
 * The keyring entries written, when secrets were given.
 */
secrets: StoredSecrets | null, };

export type AddedProfile = { 
/**
 * The config file written.
 */
config_file: string, 
/**
 * Whether it became the default profile.
 */
default: boolean, 
/**
 * Whether it needs `login` before it works (its kind keeps secrets in the keyring).
 */
needs_login: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * Its name.
 */
name: string, 
/**
 * Where it was defined.
 */
source: ProfileSource, 
/**
 * The organization this profile is bound to (`org = "acme"`): it can address only keys
 * under `acme/` (see `stowage_store::org`). One plain key segment.
 */
org: string | null, } & ({ "kind": "local" } & LocalProfile | { "kind": "s3" } & S3Profile | { "kind": "supabase" } & SupabaseProfile);

export type ProfileDetail = { 
/**
 * The config file.
 */
config_file: string, 
/**
 * Where it is defined: `built in`, or the config file.
 */
defined_in: string, 
/**
 * Why it was selected, when no name was asked for.
 */
selected_by: Selection | null, 
/**
 * Where each credential comes from.
 */
credentials: CredentialReport, 
/**
 * Its name.
 */
name: string, 
/**
 * Where it was defined.
 */
source: ProfileSource, 
/**
 * The organization this profile is bound to (`org = "acme"`): it can address only keys
 * under `acme/` (see `stowage_store::org`). One plain key segment.
 */
org: string | null, } & ({ "kind": "local" } & LocalProfile | { "kind": "s3" } & S3Profile | { "kind": "supabase" } & SupabaseProfile);

export type ProfileRemoved = { 
/**
 * The config file.
 */
config_file: string, 
/**
 * Keyring entries removed (or with `dry_run` that would be), from every reachable keyring.
 */
keyring_entries: Array<RemovedEntry>, 
/**
 * Why a keyring could not be cleaned, when one could not (its entries, if any, stay).
 */
keyring_problem: string | null, 
/**
 * Nothing was changed.
 */
dry_run: boolean, 
/**
 * The profile as it was.
 */
profile: Profile, 
/**
 * Whether `default_profile` named it and was removed too.
 */
was_default: boolean, };

export type LoginPlan = { 
/**
 * The profile.
 */
profile: string, 
/**
 * Its kind.
 */
kind: string, 
/**
 * The fields to ask for, in order.
 */
fields: Array<Field>, };

export type CredentialReport = { 
/**
 * The keyring consulted (`secret-service`, `keyutils`, `native`), if one answered.
 */
keyring: string | null, 
/**
 * Why no keyring was consulted, when none answered (no values in it).
 */
keyring_problem: string | null, 
/**
 * One line per credential.
 */
fields: Array<FieldSource>, 
/**
 * One line for all of them.
 */
summary: string, };

export type FieldSource = { 
/**
 * The field: `access_key_id`, `secret_access_key`, `service_role_key`, `anon_key`, `url`
 * or `credentials` (the AWS chain as a whole).
 */
field: string, 
/**
 * `keyring`, `environment`, `aws_profile`, `aws_chain`, `profile` or `missing`.
 */
origin: string, 
/**
 * In words: "set in the Secret Service keyring", "from SUPABASE_SERVICE_ROLE_KEY".
 */
detail: string, };

export type Field = "access_key_id" | "secret_access_key" | "service_role_key" | "anon_key";

export type StoredSecrets = { 
/**
 * The profile.
 */
profile: string, 
/**
 * `secret-service`, `keyutils` or `native`.
 */
keyring: string, 
/**
 * The keyring in words.
 */
keyring_description: string, 
/**
 * The keyring service: `stowage`.
 */
service: string, 
/**
 * Entries written (`PROFILE/field`).
 */
stored: Array<string>, 
/**
 * Entries of the profile removed because the new ones replace them.
 */
removed: Array<string>, 
/**
 * Nothing was changed.
 */
dry_run: boolean, };

export type RemovedEntry = { 
/**
 * `PROFILE/field`.
 */
entry: string, 
/**
 * The keyring that held it: `secret-service`, `keyutils` or `native`.
 */
keyring: string, };

export type RemovedProfileAndSecrets = { 
/**
 * Keyring entries removed (or with `dry_run` that would be), from every reachable keyring.
 */
keyring_entries: Array<RemovedEntry>, 
/**
 * Why a keyring could not be cleaned, when one could not (its entries, if any, stay).
 */
keyring_problem: string | null, 
/**
 * Nothing was changed.
 */
dry_run: boolean, 
/**
 * The profile as it was.
 */
profile: Profile, 
/**
 * Whether `default_profile` named it and was removed too.
 */
was_default: boolean, };

export type RemovedProfile = { 
/**
 * The profile as it was.
 */
profile: Profile, 
/**
 * Whether `default_profile` named it and was removed too.
 */
was_default: boolean, };

export type PutOutcome = { 
/**
 * The local file.
 */
file: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * Bytes stored.
 */
size: number, 
/**
 * SHA-256 of the content, verified (None in a dry run).
 */
sha256: string | null, 
/**
 * The provider's ETag.
 */
etag: string | null, 
/**
 * Bytes an earlier interrupted attempt had already stored.
 */
resumed_from: number, 
/**
 * Whether an existing object is (or would be) replaced.
 */
replaced: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, 
/**
 * The file's size when it was gzipped on the way (`size` is then the stored size).
 */
compressed_from: number | null, 
/**
 * The file's SHA-256 when it was gzipped on the way (`sha256` is the stored bytes').
 */
original_sha256: string | null, };

export type GetOutcome = { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The local file written.
 */
file: string, 
/**
 * Bytes written (the object's size in a dry run); decompressed bytes for a `.gz` object.
 */
size: number, 
/**
 * Bytes stored: `size` unless the object was decompressed on the way.
 */
stored_size: number, 
/**
 * Whether a gzipped object was decompressed (see [`GetFilesOptions::raw`]).
 */
decompressed: boolean, 
/**
 * SHA-256 of the stored bytes, checked against the store's (None in a dry run).
 */
sha256: string | null, 
/**
 * Whether a checksum of the stored object was known and matched.
 */
verified: boolean, 
/**
 * Which: `SHA-256` (Stowage's own, or the catalog's), or `MD5` (the provider's ETag of
 * an object another tool wrote in one part); None when nothing could be checked.
 */
checksum: string | null, 
/**
 * Whether an existing local file is (or would be) replaced.
 */
replaced: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type Bucket = { 
/**
 * Its name.
 */
name: string, 
/**
 * Whether it is public, when the provider says.
 */
public: boolean | null, 
/**
 * When it was created, when the provider says.
 */
created: string | null, };

export type Entry = { 
/**
 * Object or folder.
 */
kind: EntryKind, 
/**
 * The key, or the prefix ending in `/`.
 */
name: string, 
/**
 * Size in bytes (objects).
 */
size: number | null, 
/**
 * Last written (objects, when known).
 */
last_modified: string | null, 
/**
 * The provider's ETag.
 */
etag: string | null, };

export type EntryKind = "object" | "folder";

export type RemoveOutcome = { 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The keys removed.
 */
keys: Array<string>, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type CopyOutcome = { 
/**
 * The source.
 */
from: string, 
/**
 * The destination.
 */
to: string, 
/**
 * Whether the source was removed (a move).
 */
moved: boolean, 
/**
 * Whether an existing destination is (or would be) replaced.
 */
replaced: boolean, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type SignedUrl = { 
/**
 * The object.
 */
path: string, 
/**
 * The URL (carries a signature, not the credentials).
 */
url: string, 
/**
 * `get` or `put`.
 */
method: string, 
/**
 * When it expires.
 */
expires_at: string, };

export type UrlRead = { 
/**
 * The profile that signed it.
 */
profile: string, 
/**
 * `primary` or `secondary`.
 */
source: string, 
/**
 * Why the primary was passed over.
 */
warnings: Array<string>, 
/**
 * The object.
 */
path: string, 
/**
 * The URL (carries a signature, not the credentials).
 */
url: string, 
/**
 * `get` or `put`.
 */
method: string, 
/**
 * When it expires.
 */
expires_at: string, };

export type RestoreRead = { 
/**
 * The family.
 */
family: string, 
/**
 * The version.
 */
version: string, 
/**
 * The file written.
 */
file: string, 
/**
 * Bytes written (the original size).
 */
size: number, 
/**
 * SHA-256 of what was written, equal to the recorded one.
 */
sha256: string, 
/**
 * Whether it was stored gzipped (and so decompressed).
 */
decompressed: boolean, 
/**
 * `cache`, `primary`, `secondary` or `other` (a further recorded location).
 */
source: string, 
/**
 * `cache`, or `profile:bucket/key`.
 */
from: string, 
/**
 * Failed attempts before it, each naming the provider and the error.
 */
warnings: Array<string>, };

export type ReadInfo = { 
/**
 * `cache`, `primary`, `secondary` or `other` (a further recorded location).
 */
source: string, 
/**
 * `cache`, or `profile:bucket/key`.
 */
from: string, 
/**
 * Failed attempts before it, each naming the provider and the error.
 */
warnings: Array<string>, };

export type Restored = { 
/**
 * The family.
 */
family: string, 
/**
 * The version.
 */
version: string, 
/**
 * The file written.
 */
file: string, 
/**
 * Bytes written (the original size).
 */
size: number, 
/**
 * SHA-256 of what was written, equal to the recorded one.
 */
sha256: string, 
/**
 * Whether it was stored gzipped (and so decompressed).
 */
decompressed: boolean, };

export type Collected = { 
/**
 * The family.
 */
family: string, 
/**
 * The version.
 */
version: string, 
/**
 * The objects deleted: `profile:bucket/key`.
 */
objects: Array<string>, 
/**
 * Stored bytes freed.
 */
bytes: number, };

export type PlannedFile = { 
/**
 * Path relative to the synced folder, `/`-separated.
 */
file: string, 
/**
 * The policy kind.
 */
kind: string, 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * Where it goes.
 */
destination: Destination, 
/**
 * The key it is stored under (with `.gz` when compressed).
 */
key: string | null, 
/**
 * Whether it is gzipped on the way up.
 */
compress: boolean, 
/**
 * Why (or why not) compressed.
 */
compress_reason: string | null, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * What sync does with it.
 */
action: Action, 
/**
 * Why it is refused.
 */
error: string | null, };

export type Action = "upload" | "local" | "never" | "unchanged" | "refused";

export type Problem = { 
/**
 * The file (None for the whole run, e.g. a missing bucket).
 */
file: string | null, 
/**
 * The profile.
 */
profile: string, 
/**
 * Whether it fails the run (the primary), or only leaves a copy out (a secondary).
 */
fatal: boolean, 
/**
 * What happens, with the next step.
 */
message: string, };

export type SyncReport = { 
/**
 * The folder.
 */
dir: string, 
/**
 * Per file.
 */
files: Array<FileOutcome>, 
/**
 * Objects uploaded.
 */
uploaded: number, 
/**
 * Bytes uploaded.
 */
bytes_uploaded: number, 
/**
 * Files skipped as unchanged (or already stored).
 */
unchanged: number, 
/**
 * New versions recorded.
 */
new_versions: number, 
/**
 * Files that failed.
 */
failed: number, 
/**
 * Copies that wait in the durable queue for a provider that did not answer (the next
 * `sync` or `watch` makes them): (file, profile).
 */
queued: Array<[string, string]>, };

export type FileOutcome = { 
/**
 * `uploaded`, `recorded` (catalog only), `unchanged`, `local`, `never` or `failed`.
 */
result: string, 
/**
 * The artifact family.
 */
family: string | null, 
/**
 * The version recorded (or found).
 */
version: string | null, 
/**
 * Uploads made.
 */
uploads: Array<Upload>, 
/**
 * Problems that did not fail the file (a secondary that failed, metrics not read).
 */
warnings: Array<string>, 
/**
 * Path relative to the synced folder, `/`-separated.
 */
file: string, 
/**
 * The policy kind.
 */
kind: string, 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * Where it goes.
 */
destination: Destination, 
/**
 * The key it is stored under (with `.gz` when compressed).
 */
key: string | null, 
/**
 * Whether it is gzipped on the way up.
 */
compress: boolean, 
/**
 * Why (or why not) compressed.
 */
compress_reason: string | null, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * What sync does with it.
 */
action: Action, 
/**
 * Why it is refused.
 */
error: string | null, };

export type Upload = { 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * Bytes stored.
 */
size: number, 
/**
 * SHA-256 of the stored bytes.
 */
sha256: string, 
/**
 * The provider's ETag.
 */
etag: string | null, 
/**
 * Where the older version at this key was kept, if one was.
 */
archived_previous_to: string | null, };

export type PolicyChange = { 
/**
 * The file.
 */
file: string, 
/**
 * The folder it is synced from.
 */
dir: string, 
/**
 * The decision it was stored by: `destination|key|compression`.
 */
recorded: string, 
/**
 * The decision the policy makes now.
 */
now: string, };

export type VersionInfo = { 
/**
 * Its row id.
 */
id: number, 
/**
 * The artifact's row id.
 */
artifact_id: number, 
/**
 * The artifact's organization.
 */
org: string | null, 
/**
 * The family.
 */
family: string, 
/**
 * The artifact's name ([`Artifact::name`]): folder, family and extension.
 */
artifact: string, 
/**
 * The kind.
 */
kind: string, 
/**
 * The framework.
 */
framework: string | null, 
/**
 * The version tag.
 */
version: string, 
/**
 * SHA-256 of the original content.
 */
sha256: string, 
/**
 * Stored size.
 */
size: number, 
/**
 * Original size.
 */
original_size: number, 
/**
 * `gzip` when stored compressed.
 */
encoding: string | null, 
/**
 * The source file.
 */
source_path: string | null, 
/**
 * When recorded.
 */
created_at: string, 
/**
 * Whether this is the family's newest version.
 */
latest: boolean, 
/**
 * Labels pointing at it.
 */
labels: Array<string>, 
/**
 * Where it is stored (empty: local only).
 */
locations: Array<StoredLocation>, 
/**
 * Its metrics.
 */
metrics: VersionMetrics, 
/**
 * The teammate who recorded it, for a version pulled from the team catalog (None: this
 * user's own).
 */
member: string | null, };

export type StoredLocation = { 
/**
 * Its row id.
 */
id: number, 
/**
 * The version it holds.
 */
version_id: number, 
/**
 * The profile's name.
 */
profile: string, 
/**
 * The provider.
 */
provider: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * Bytes stored.
 */
size: number, 
/**
 * The provider's ETag.
 */
etag: string | null, 
/**
 * SHA-256 of the stored bytes.
 */
sha256: string | null, 
/**
 * When stored.
 */
stored_at: string, };

export type VersionMetrics = { 
/**
 * Accuracy.
 */
accuracy: number | null, 
/**
 * Loss.
 */
loss: number | null, 
/**
 * Epochs trained.
 */
epochs: number | null, 
/**
 * Model type.
 */
model_type: string | null, 
/**
 * Number of examples in the dataset.
 */
dataset_count: number | null, 
/**
 * The training split, as written.
 */
training_split: string | null, 
/**
 * Other top-level numeric metrics.
 */
other: { [key in string]?: number }, };

export type Summary = { 
/**
 * Rows a killed or stopped process had left running, put back at start.
 */
reclaimed: number, 
/**
 * Rows done in this run.
 */
done: number, 
/**
 * Rows failed for good in this run.
 */
failed: number, 
/**
 * Failed rows in the whole queue when the run ended.
 */
failed_in_queue: number, 
/**
 * Stopped by the caller (Ctrl-C) rather than by going idle.
 */
interrupted: boolean, 
/**
 * When it went idle with work left only on providers that are down: per profile, the
 * rows that wait for it.
 */
waiting: Array<[string, number]>, };

export type Row = { 
/**
 * Its id.
 */
id: number, 
/**
 * The local file.
 */
path: string, 
/**
 * The watched folder.
 */
dir: string, 
/**
 * The organization prefix.
 */
org: string | null, 
/**
 * Primary or secondary copy.
 */
role: Role, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * The file's size when planned.
 */
size: number, 
/**
 * Its modification time when planned.
 */
mtime_ns: number, 
/**
 * Where it is.
 */
state: State, 
/**
 * Attempts that failed so far.
 */
attempts: number, 
/**
 * Not before this time (Unix ns).
 */
next_at_ns: number, 
/**
 * The last error's message.
 */
last_error: string | null, 
/**
 * The last error's kind (`unavailable`, `unauthorized`, …).
 */
error_kind: string | null, 
/**
 * SHA-256 of the content uploaded.
 */
sha256: string | null, 
/**
 * The version recorded.
 */
version: string | null, 
/**
 * When planned (Unix ns).
 */
created_at_ns: number, 
/**
 * Last change (Unix ns).
 */
updated_at_ns: number, };

export type Counts = { 
/**
 * Waiting.
 */
queued: number, 
/**
 * In flight.
 */
running: number, 
/**
 * Uploaded and verified.
 */
done: number, 
/**
 * Failed permanently.
 */
failed: number, 
/**
 * Cancelled.
 */
cancelled: number, 
/**
 * Superseded by newer content.
 */
superseded: number, };

export type Health = { 
/**
 * The profile.
 */
profile: string, 
/**
 * Whether it answered last time.
 */
up: boolean, 
/**
 * Since when (Unix ns).
 */
since_ns: number, 
/**
 * The error that took it down.
 */
last_error: string | null, 
/**
 * Last checked (Unix ns).
 */
checked_at_ns: number, };

export type Role = "primary" | "secondary";

export type State = "queued" | "running" | "done" | "failed" | "cancelled" | "superseded";

export type MigrateOutcome = { 
/**
 * `profile:bucket/key` of the source.
 */
from: string, 
/**
 * `profile:bucket/key` of the target.
 */
to: string, 
/**
 * Bytes.
 */
size: number, 
/**
 * SHA-256, verified on the target (None in a dry run when unknown).
 */
sha256: string | null, 
/**
 * `copied`, `skipped` (already verified on the target) or `planned` (dry run).
 */
action: string, 
/**
 * `server_copy`, `streamed` or `none`.
 */
method: string, 
/**
 * Bytes that passed through this machine (downloaded; the same went up).
 */
bytes_moved: number, 
/**
 * Bytes an interrupted upload had already stored.
 */
resumed_from: number, 
/**
 * Whether the target was verified (size and SHA-256).
 */
verified: boolean, 
/**
 * Whether the source object was deleted (only after verification).
 */
source_deleted: boolean, 
/**
 * Whether the target location was recorded in the catalog.
 */
catalogued: boolean, };

export type VerifyReport = { 
/**
 * Locations checked.
 */
checked: number, 
/**
 * Locations that matched.
 */
ok: number, 
/**
 * Everything that did not.
 */
problems: Array<VerifyProblem>, 
/**
 * Problems repaired.
 */
fixed: number, 
/**
 * Whether this was only a check (`fix` with `dry_run` repairs nothing).
 */
dry_run: boolean, };

export type VerifyProblem = { 
/**
 * `missing`, `different`, `extra` or `unreachable`.
 */
kind: string, 
/**
 * The profile.
 */
profile: string, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key.
 */
key: string, 
/**
 * What the catalog records (not for `extra`).
 */
expected_size: number | null, 
/**
 * What the catalog records.
 */
expected_sha256: string | null, 
/**
 * What the provider holds.
 */
found_size: number | null, 
/**
 * What the provider records.
 */
found_sha256: string | null, 
/**
 * Whether `--fix` repaired it.
 */
fixed: boolean, 
/**
 * The copy it was repaired from: `profile:bucket/key`.
 */
fixed_from: string | null, 
/**
 * Why it could not be checked or fixed.
 */
error: string | null, };

export type CacheEntry = { 
/**
 * SHA-256 of the content, its name in the cache.
 */
sha256: string, 
/**
 * Bytes.
 */
size: number, 
/**
 * What it was downloaded as: `profile:bucket/key`.
 */
source: string, 
/**
 * When it was stored (Unix ns).
 */
stored_at_ns: number, 
/**
 * When it was last served or stored (Unix ns).
 */
last_used_ns: number, 
/**
 * Whether it is past the TTL.
 */
expired: boolean, };

export type Cleaned = { 
/**
 * The entries removed.
 */
removed: Array<CacheEntry>, 
/**
 * Their bytes.
 */
bytes: number, 
/**
 * Whether this was only planned.
 */
dry_run: boolean, };

export type CostReport = { 
/**
 * Always true: these are estimates from the price table, not bills.
 */
estimate: boolean, 
/**
 * When the report was computed; windows end here.
 */
generated_at: string, 
/**
 * What the groups are.
 */
group_by: GroupBy, 
/**
 * The prices used.
 */
prices: PriceTable, 
/**
 * How the figures were reached (free tiers, allocation, forecast, staleness).
 */
notes: Array<string>, 
/**
 * The forecast's method in one sentence.
 */
forecast_method: string, 
/**
 * Per provider totals, where free tiers were applied.
 */
providers: Array<ProviderCost>, 
/**
 * The groups, costliest first.
 */
groups: Array<GroupCost>, 
/**
 * The sum of every group (its lists span all objects).
 */
total: GroupCost, };

export type GroupBy = "provider" | "bucket" | "folder" | "kind" | "org" | "member";

export type PriceTable = { 
/**
 * S3 Standard storage per GB-month.
 */
s3_storage_gb_month: number, 
/**
 * S3 PUT, COPY, POST and LIST requests per 1,000.
 */
s3_put_per_1000: number, 
/**
 * S3 GET and other requests per 1,000.
 */
s3_get_per_1000: number, 
/**
 * S3 egress per GB beyond the free allowance.
 */
s3_egress_gb: number, 
/**
 * S3 egress free each month, in GB.
 */
s3_egress_free_gb: number, 
/**
 * Supabase Storage per GB-month beyond the included storage.
 */
supabase_storage_gb_month: number, 
/**
 * Supabase storage included in the plan (Pro), in GB.
 */
supabase_storage_included_gb: number, 
/**
 * Supabase egress per GB beyond the included egress.
 */
supabase_egress_gb: number, 
/**
 * Supabase egress included in the plan (Pro) each month, in GB.
 */
supabase_egress_included_gb: number, 
/**
 * Postgres JSONB storage per GB-month, for the comparison.
 */
postgres_jsonb_gb_month: number, 
/**
 * A local folder's storage per GB-month (0: the disk is already paid for).
 */
local_storage_gb_month: number, };

export type ProviderCost = { 
/**
 * The provider label.
 */
provider: string, 
/**
 * Which price list applied.
 */
kind: ProviderKind, 
/**
 * Objects stored there.
 */
objects: number, 
/**
 * Bytes stored there.
 */
stored_bytes: number, 
/**
 * Storage included for free, in GB.
 */
storage_included_gb: number, 
/**
 * Monthly storage cost after the included storage, est.
 */
storage_monthly_usd_est: number, 
/**
 * Bytes downloaded in the last 30 days.
 */
egress_bytes_30d: number, 
/**
 * Free egress per month, in GB.
 */
egress_free_gb: number, 
/**
 * Egress cost of the last 30 days after the free allowance, est.
 */
egress_usd_est_30d: number, 
/**
 * Request cost of the last 30 days, est.
 */
requests_usd_est_30d: number, 
/**
 * Storage + egress + requests: a month's cost, est.
 */
total_monthly_usd_est: number, };

export type ProviderKind = "local" | "s3" | "supabase" | "unknown";

export type GroupCost = { 
/**
 * The group's name (`total` for the sum).
 */
name: string, 
/**
 * Objects in the group.
 */
objects: number, 
/**
 * Bytes as stored (after compression).
 */
stored_bytes: number, 
/**
 * Bytes before compression.
 */
original_bytes: number, 
/**
 * Bytes compression saved (sum over objects of original minus stored, never negative).
 */
savings_bytes: number, 
/**
 * What those saved bytes would cost per month, est.
 */
savings_monthly_usd_est: number, 
/**
 * Monthly storage cost (its share of its providers' cost after free tiers), est.
 */
storage_monthly_usd_est: number, 
/**
 * Bytes downloaded in the last 30 days (split by stored bytes for folder/kind/org).
 */
egress_bytes_30d: number, 
/**
 * Bytes uploaded in the last 30 days (split likewise).
 */
upload_bytes_30d: number, 
/**
 * Requests in the last 30 days (split likewise).
 */
requests_30d: number, 
/**
 * Egress cost of the last 30 days, est.
 */
egress_usd_est_30d: number, 
/**
 * Request cost of the last 30 days, est.
 */
requests_usd_est_30d: number, 
/**
 * Storage + egress + requests: a month's cost, est.
 */
total_monthly_usd_est: number, 
/**
 * Bytes of objects stored in the last 30 days.
 */
growth_bytes_30d: number, 
/**
 * Bytes of objects stored 30 to 60 days ago.
 */
growth_bytes_30_60d: number, 
/**
 * Bytes of objects stored 60 to 90 days ago.
 */
growth_bytes_60_90d: number, 
/**
 * Forecast growth in each of the next three months, est.
 */
forecast_growth_bytes_est: [number, number, number], 
/**
 * Stored bytes in three months, est.
 */
forecast_stored_bytes_3mo_est: number, 
/**
 * Monthly storage cost in three months, est.
 */
forecast_storage_monthly_usd_3mo_est: number, 
/**
 * Objects not read for 90 days.
 */
stale_objects: number, 
/**
 * Their stored bytes.
 */
stale_bytes: number, 
/**
 * Their monthly storage cost, est.
 */
stale_storage_monthly_usd_est: number, 
/**
 * What the original bytes would cost per month as Postgres JSONB, est.
 */
postgres_jsonb_monthly_usd_est: number, 
/**
 * The largest artifacts, largest first.
 */
largest: Array<Artifact>, 
/**
 * The stale artifacts longest unread, oldest first.
 */
stalest: Array<Artifact>, };

export type Artifact = { 
/**
 * Provider label.
 */
provider: string, 
/**
 * Bucket.
 */
bucket: string, 
/**
 * Object key.
 */
key: string, 
/**
 * Folder.
 */
folder: string, 
/**
 * Kind.
 */
kind: string, 
/**
 * Family (model or dataset name).
 */
family: string, 
/**
 * Version.
 */
version: string, 
/**
 * Organization.
 */
org: string | null, 
/**
 * The catalog's id of its artifact (opens its detail).
 */
artifact_id: number, 
/**
 * Bytes as stored.
 */
stored_bytes: number, 
/**
 * Bytes before compression.
 */
original_bytes: number, 
/**
 * When it was stored.
 */
stored_at: string, 
/**
 * When it was last read, if ever.
 */
last_read: string | null, 
/**
 * Whole days since it was last read (or stored, if never read).
 */
days_unread: number, 
/**
 * Its monthly storage cost, est.
 */
storage_monthly_usd_est: number, };

export type CostFilter = { 
/**
 * Only this organization ([`NO_ORG`] for objects without one).
 */
org: string | null, 
/**
 * Only this provider label (`local`, `s3 (host:port)`, `supabase`).
 */
provider: string | null, 
/**
 * Only objects stored at or after this time.
 */
stored_after: string | null, 
/**
 * Only objects stored before this time.
 */
stored_before: string | null, 
/**
 * Only this user's own copies and transfers (`me`), or everyone's (`team`, default).
 */
scope: Scope, };

export type CostScope = { 
/**
 * Provider labels, in the order first stored.
 */
providers: Array<string>, 
/**
 * Organizations ([`NO_ORG`] for objects without one), in the order first stored.
 */
orgs: Array<string>, };

export type CostTable = "groups" | "providers" | "largest" | "stalest";

export type CostRequest = { 
/**
 * What each row is.
 */
by: GroupBy, 
/**
 * Which objects count.
 */
filter: CostFilter, };

export type Dashboard = { 
/**
 * The filter applied.
 */
filter: CostFilter, 
/**
 * The providers and organizations there are, filters aside.
 */
scope: CostScope, 
/**
 * One report per grouping, in [`GroupBy::ALL`]'s order (provider, bucket, folder, kind,
 * org): the figures `cost --json --by …` prints. The largest and stalest lists are kept
 * only in the first report's total (per-group lists are left out: nothing shows them).
 */
reports: Array<CostReport>, 
/**
 * Stored bytes three, two and one month ago, now, and forecast one, two and three months
 * ahead: the growth line.
 */
timeline: Array<TimelinePoint>, };

export type TimelinePoint = { 
/**
 * Months from now (-3 … 3).
 */
months: number, 
/**
 * Bytes stored then (for the past: today's bytes less what was stored since).
 */
stored_bytes: number, 
/**
 * An estimate from the forecast.
 */
forecast: boolean, };

export type CostCsvRequest = { 
/**
 * Which report.
 */
report: CostRequest, 
/**
 * Which of its tables.
 */
table: CostTable, 
/**
 * Where to write; the user's Downloads folder (or Stowage's data folder) when None.
 */
path: string | null, };

export type CsvExport = { 
/**
 * Where it is.
 */
path: string, 
/**
 * Rows below the header.
 */
rows: number, };

export type WatchedFolder = { 
/**
 * The folder.
 */
path: string, 
/**
 * What is watched: the folder, or the `.beast-mode` folder inside it.
 */
root: string, 
/**
 * The organization its keys go under.
 */
org: string | null, 
/**
 * When it was registered.
 */
added_at: string, 
/**
 * Whether watching passes over it until resumed.
 */
paused: boolean, 
/**
 * Whether it is there now (a deleted folder, an unmounted disk are kept, not watched).
 */
exists: boolean, };

export type WatcherState = { "state": "here", 
/**
 * The operation (its events carry this id).
 */
op: OpId, 
/**
 * What it watches and where it writes.
 */
watching: Watching, } | { "state": "elsewhere", 
/**
 * Who, in words.
 */
message: string, } | { "state": "stopped", 
/**
 * Why the last watch ended, when it failed.
 */
error: AppError | null, };

export type SyncStatus = { 
/**
 * Registered project folders, by path.
 */
folders: Array<WatchedFolder>, 
/**
 * Who watches them.
 */
watcher: WatcherState, 
/**
 * The queue (newest first, at most the asked number of rows), its counts and each
 * provider's health.
 */
queue: QueueList, };

export type PolicyDocument = { 
/**
 * Where it lives.
 */
file: string, 
/**
 * Whether it exists (else the built-in rules apply, and `text` is a starter).
 */
exists: boolean, 
/**
 * Its text.
 */
text: string, };

export type PolicySample = { 
/**
 * The path.
 */
path: string, 
/**
 * Its size; None reads it from the file at `path`.
 */
size: number | null, };

export type PolicyCheck = { 
/**
 * Why the text is refused (the message names the line, column and rule); None when valid.
 */
error: AppError | null, 
/**
 * The rules in the order they are tried (the built-in ones included when the file
 * includes them).
 */
rules: Array<Rule>, 
/**
 * What the text decides for each sample, with the rules passed over and why.
 */
explained: Array<Item<Explanation>>, };

export type Rule = { 
/**
 * Its name, shown by `explain`.
 */
name: string, 
/**
 * Glob patterns; empty matches every file.
 */
patterns: Array<string>, 
/**
 * Only files detected as one of these kinds; None for any.
 */
kinds: Array<Kind> | null, 
/**
 * The kind recorded for matching files; None keeps the detected kind.
 */
kind: Kind | null, 
/**
 * Matches files of at least this many bytes.
 */
min_size: number | null, 
/**
 * Matches files of fewer than this many bytes.
 */
max_size: number | null, 
/**
 * Where matching files go.
 */
destination: Destination, 
/**
 * The key prefix, e.g. `models/` (empty: the bucket's root).
 */
folder: string, 
/**
 * Whether the organization prefix applies.
 */
org_prefix: boolean, 
/**
 * Compression: None decides by type and size.
 */
compress: boolean | null, };

export type Profile = { 
/**
 * Its name.
 */
name: string, 
/**
 * Where it was defined.
 */
source: ProfileSource, 
/**
 * The organization this profile is bound to (`org = "acme"`): it can address only keys
 * under `acme/` (see `stowage_store::org`). One plain key segment.
 */
org: string | null, } & ({ "kind": "local" } & LocalProfile | { "kind": "s3" } & S3Profile | { "kind": "supabase" } & SupabaseProfile);

export type ProfileSource = "embedded" | "config_file";

export type Backend = { "kind": "local" } & LocalProfile | { "kind": "s3" } & S3Profile | { "kind": "supabase" } & SupabaseProfile;

export type LocalProfile = { 
/**
 * The folder holding one directory per bucket.
 */
root: string, };

export type S3Profile = { 
/**
 * Endpoint URL; None for AWS.
 */
endpoint: string | null, 
/**
 * Region; None for the AWS chain's.
 */
region: string | null, 
/**
 * Path-style addressing, which most self-hosted servers need.
 */
path_style: boolean, 
/**
 * A profile of `~/.aws/config`; None uses `AWS_PROFILE` or the default.
 */
aws_profile: string | null, 
/**
 * Refuse uploads above this many bytes.
 */
max_object_size: number | null, 
/**
 * Multipart part size in bytes.
 */
part_size: number | null, 
/**
 * Parts in flight at once.
 */
concurrency: number | null, 
/**
 * Seconds a request may go without a byte moving before it fails as unavailable
 * (default 30; `STOWAGE_READ_TIMEOUT_SECS` overrides it).
 */
read_timeout: number | null, };

export type SupabaseProfile = { 
/**
 * The project URL; None takes `SUPABASE_URL`.
 */
url: string | null, 
/**
 * Refuse uploads above this many bytes.
 */
max_object_size: number | null, };

export type Selection = "flag" | "environment" | "config_default" | "built_in";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type DropRequest = { 
/**
 * The dropped paths.
 */
paths: Array<string>, 
/**
 * The organization keys go under [default: the policy's].
 */
org: string | null, };

export type DropFile = { 
/**
 * The local file.
 */
file: string, 
/**
 * Its name as the policy sees it: relative to the dropped folder's parent, so a
 * dropped folder keeps its name and its subfolders.
 */
name: string, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * What it is (`model`, `dataset`, …).
 */
kind: string, 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * The policy's destination (`primary`, `primary+secondary`, `local`, `never`).
 */
destination: string, 
/**
 * The profiles it goes to, the first being where it is uploaded now (empty: it is not
 * uploaded, see `refused`).
 */
profiles: Array<string>, 
/**
 * The bucket.
 */
bucket: string, 
/**
 * The key it is stored under (before the `.gz` compression appends).
 */
key: string, 
/**
 * Whether it is gzipped on the way up.
 */
compress: boolean, 
/**
 * Why it will not be uploaded (a rule that keeps it on this machine, a name that cannot
 * be a key).
 */
refused: string | null, };

export type DropPlan = { 
/**
 * Each file, in the order found (folders walked in name order).
 */
files: Array<Item<DropFile>>, 
/**
 * The profiles the user can choose instead.
 */
profiles: Array<string>, 
/**
 * The primary profile.
 */
primary: string, 
/**
 * The secondary profile, for `primary+secondary` rules.
 */
secondary: string | null, 
/**
 * The bucket uploads go to.
 */
bucket: string, };

export type Explanation = { matched: string, detected_kind: Kind, detected_by: string | null, skipped: Array<SkippedRule>, 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * What the file is.
 */
kind: Kind, 
/**
 * Where it goes.
 */
destination: Destination, 
/**
 * `{org}/{folder}{file name}` when uploaded; the compression step appends `.gz`.
 */
key: string | null, 
/**
 * Whether to gzip it on the way up.
 */
compress: boolean, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * Why an uploading rule produced no key (the name cannot be a valid key); the caller
 * must refuse the file with this message.
 */
key_error: string | null, };

export type SkippedRule = { rule: string, why: string, };

export type Decision = { 
/**
 * The rule that matched.
 */
rule: string, 
/**
 * What the file is.
 */
kind: Kind, 
/**
 * Where it goes.
 */
destination: Destination, 
/**
 * `{org}/{folder}{file name}` when uploaded; the compression step appends `.gz`.
 */
key: string | null, 
/**
 * Whether to gzip it on the way up.
 */
compress: boolean, 
/**
 * Its size in bytes.
 */
size: number, 
/**
 * Why an uploading rule produced no key (the name cannot be a valid key); the caller
 * must refuse the file with this message.
 */
key_error: string | null, };

export type Kind = "dataset" | "model" | "results" | "catalog" | "export" | "log" | "cache" | "temp" | "other";

export type Destination = "never" | "local" | "primary" | "primary+secondary";

export type Scope = "me" | "team";

export type TeamStatus = { 
/**
 * Whether a team database is configured.
 */
configured: boolean, 
/**
 * `user@host:port/database` (never the password).
 */
database: string | null, 
/**
 * This user's name in the team.
 */
member: string | null, 
/**
 * Where the password comes from (`keyring`, a variable), if anywhere.
 */
password_from: string | null, 
/**
 * This machine's id, once linked.
 */
machine: string | null, 
/**
 * Whether this catalog writes its changes to the outbox.
 */
linked: boolean, 
/**
 * Changes waiting to be pushed.
 */
pending: number, 
/**
 * The last change sequence pulled.
 */
cursor: number, 
/**
 * Whether the database answered just now.
 */
reachable: boolean, 
/**
 * Why it did not.
 */
error: string | null, 
/**
 * What it holds.
 */
remote: RemoteCounts | null, 
/**
 * The newest label moves that lost to concurrent ones.
 */
conflicts: Array<LabelConflict>, };

export type TeamSyncReport = { 
/**
 * The push.
 */
pushed: PushReport, 
/**
 * The pull.
 */
pulled: PullReport, 
/**
 * Changes still waiting (0 unless the push failed part-way).
 */
pending: number, };

export type PushReport = { 
/**
 * Rows sent (artifacts, versions, copies, labels, transfers).
 */
sent: number, 
/**
 * Transactions used.
 */
batches: number, 
/**
 * Label moves that lost to a concurrent move (kept in `stowage.label_conflicts`).
 */
conflicts: number, };

export type PullReport = { 
/**
 * Rows applied from other machines.
 */
applied: number, 
/**
 * The change sequence now reached.
 */
cursor: number, };

export type RemoteCounts = { 
/**
 * The schema version there.
 */
schema: number, 
/**
 * Artifacts (not deleted).
 */
artifacts: number, 
/**
 * Versions (not deleted).
 */
versions: number, 
/**
 * Members.
 */
members: number, 
/**
 * Machines.
 */
machines: number, 
/**
 * Label moves that lost.
 */
label_conflicts: number, 
/**
 * The newest change sequence.
 */
head: number, };

export type LabelConflict = { 
/**
 * The artifact's name.
 */
artifact: string, 
/**
 * The label.
 */
label: string, 
/**
 * The version the losing move pointed at.
 */
lost: string, 
/**
 * Who made it.
 */
member: string, 
/**
 * The version the label points at instead.
 */
won: string, };

export type TeamMember = { 
/**
 * The member's name (`[team] member`).
 */
name: string, 
/**
 * The organization (empty: none).
 */
org: string, 
/**
 * The database role bound to it.
 */
db_role: string | null, 
/**
 * The Supabase user id (the JWT's `sub`) bound to it.
 */
user_id: string | null, 
/**
 * The member's machines in that organization.
 */
machines: number, 
/**
 * The member's versions there (not deleted).
 */
versions: number, };
