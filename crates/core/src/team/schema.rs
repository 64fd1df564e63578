//! The team database's schema, in its own Postgres schema `stowage`: versioned migrations
//! that every client runs on connect (under an advisory lock), refusing a database whose
//! schema is newer than it knows.
//!
//! Every shared row carries `seq`, the change sequence at its last write (pushes take turns
//! under a transaction-scoped advisory lock, so a puller's snapshot never misses a lower
//! sequence committed later), and `deleted`, a tombstone. Times are nanoseconds since the
//! epoch, as in the local catalog; the views turn them into timestamps.
//!
//! Row-level security by organization: a database role (`db_role`) or a Supabase user
//! (`user_id`, the JWT's `sub`) bound in `stowage.members` reads the rows of its
//! organizations only, through SQL or Supabase's REST API. The table owner (the role
//! Stowage connects as) is not subject to it.

/// The migrations, applied in order; `stowage.schema_version` records how many ran.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE SEQUENCE stowage.change_seq;

CREATE TABLE stowage.members (
    name       text NOT NULL,
    org        text NOT NULL DEFAULT '',
    db_role    text,
    user_id    text,
    joined_ns  bigint NOT NULL DEFAULT (extract(epoch FROM now()) * 1e9)::bigint,
    PRIMARY KEY (name, org)
);
CREATE INDEX members_by_role ON stowage.members (db_role);
CREATE INDEX members_by_user ON stowage.members (user_id);

CREATE TABLE stowage.machines (
    id         text PRIMARY KEY,
    member     text NOT NULL,
    hostname   text NOT NULL,
    org        text NOT NULL DEFAULT '',
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stowage.artifacts (
    org        text NOT NULL,
    folder     text NOT NULL,
    family     text NOT NULL,
    extension  text NOT NULL,
    kind       text NOT NULL,
    framework  text,
    created_ns bigint NOT NULL,
    member     text NOT NULL,
    machine    text NOT NULL,
    seq        bigint NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (org, folder, family, extension)
);
CREATE INDEX artifacts_by_seq ON stowage.artifacts (seq);
CREATE INDEX artifacts_by_kind ON stowage.artifacts (org, kind) WHERE NOT deleted;

CREATE TABLE stowage.versions (
    org            text NOT NULL,
    folder         text NOT NULL,
    family         text NOT NULL,
    extension      text NOT NULL,
    version        text NOT NULL,
    sha256         text NOT NULL,
    size           bigint NOT NULL,
    original_size  bigint NOT NULL,
    encoding       text,
    mtime_ns       bigint,
    source_path    text,
    created_ns     bigint NOT NULL,
    accuracy       double precision,
    loss           double precision,
    epochs         bigint,
    model_type     text,
    dataset_count  bigint,
    training_split text,
    other_metrics  jsonb,
    member         text NOT NULL,
    machine        text NOT NULL,
    seq            bigint NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (org, folder, family, extension, version, sha256)
);
CREATE INDEX versions_by_seq ON stowage.versions (seq);
CREATE INDEX versions_by_created ON stowage.versions (org, created_ns) WHERE NOT deleted;
CREATE INDEX versions_by_accuracy ON stowage.versions (org, accuracy)
    WHERE NOT deleted AND accuracy IS NOT NULL;
CREATE INDEX versions_by_member ON stowage.versions (member) WHERE NOT deleted;

CREATE TABLE stowage.locations (
    provider       text NOT NULL,
    bucket         text NOT NULL,
    key            text NOT NULL,
    profile        text NOT NULL,
    org            text NOT NULL,
    folder         text NOT NULL,
    family         text NOT NULL,
    extension      text NOT NULL,
    version        text NOT NULL,
    version_sha256 text NOT NULL,
    size           bigint NOT NULL,
    etag           text,
    sha256         text,
    stored_ns      bigint NOT NULL,
    member         text NOT NULL,
    machine        text NOT NULL,
    seq            bigint NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (provider, bucket, key)
);
CREATE INDEX locations_by_seq ON stowage.locations (seq);
CREATE INDEX locations_by_version ON stowage.locations
    (org, folder, family, extension, version_sha256) WHERE NOT deleted;
CREATE INDEX locations_by_member ON stowage.locations (member) WHERE NOT deleted;

CREATE TABLE stowage.labels (
    org            text NOT NULL,
    folder         text NOT NULL,
    family         text NOT NULL,
    extension      text NOT NULL,
    name           text NOT NULL,
    version        text NOT NULL,
    version_sha256 text NOT NULL,
    hlc            bigint NOT NULL,
    member         text NOT NULL,
    machine        text NOT NULL,
    seq            bigint NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (org, folder, family, extension, name)
);
CREATE INDEX labels_by_seq ON stowage.labels (seq);

-- A label move that lost to a concurrent one (a later clock, or on a tie the larger
-- machine id): kept, with the move it lost to.
CREATE TABLE stowage.label_conflicts (
    id             bigserial PRIMARY KEY,
    org            text NOT NULL,
    folder         text NOT NULL,
    family         text NOT NULL,
    extension      text NOT NULL,
    name           text NOT NULL,
    version        text NOT NULL,
    version_sha256 text NOT NULL,
    hlc            bigint NOT NULL,
    member         text NOT NULL,
    machine        text NOT NULL,
    winner_version text NOT NULL,
    winner_hlc     bigint NOT NULL,
    winner_machine text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org, folder, family, extension, name, hlc, machine)
);

CREATE TABLE stowage.transfers (
    machine   text NOT NULL,
    local_id  bigint NOT NULL,
    org       text NOT NULL DEFAULT '',
    member    text NOT NULL,
    profile   text NOT NULL,
    provider  text NOT NULL,
    bucket    text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('upload', 'download')),
    bytes     bigint NOT NULL,
    requests  bigint NOT NULL,
    at_ns     bigint NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (machine, local_id)
);
CREATE INDEX transfers_by_seq ON stowage.transfers (seq);

-- Who is asking: a database role, or a Supabase user (PostgREST sets the JWT's claims).
CREATE FUNCTION stowage.jwt_sub() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        NULLIF(current_setting('request.jwt.claim.sub', true), ''),
        NULLIF(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
$$;

ALTER TABLE stowage.members ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_bindings ON stowage.members FOR SELECT
    USING (db_role = current_user OR user_id = stowage.jwt_sub());

-- The organizations the asker is bound to.
CREATE FUNCTION stowage.my_orgs() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT org FROM stowage.members WHERE db_role = current_user OR user_id = stowage.jwt_sub()
$$;

ALTER TABLE stowage.machines ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.machines FOR SELECT USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.artifacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.artifacts FOR SELECT USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.versions FOR SELECT USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.locations ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.locations FOR SELECT USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.labels ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.labels FOR SELECT USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.label_conflicts ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.label_conflicts FOR SELECT
    USING (org IN (SELECT stowage.my_orgs()));
ALTER TABLE stowage.transfers ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_org ON stowage.transfers FOR SELECT USING (org IN (SELECT stowage.my_orgs()));

-- Shaped like the metadata tables teams already keep beside their objects
-- (`training_results`, `training_datasets`), so their SQL keeps working. A view reads its
-- tables as its owner, so each repeats the row-level rule for whoever asks.
CREATE VIEW stowage.training_results AS
SELECT v.org || ':' || v.folder || v.family || '.' || v.extension || '@' || v.version AS id,
       v.org, v.member,
       v.folder || v.family || CASE WHEN v.extension = '' THEN '' ELSE '.' || v.extension END
           AS name,
       v.version,
       'stored'::text AS status,
       to_timestamp(v.created_ns / 1e9) AS created_at,
       l.bucket || '/' || l.key AS results_file_path,
       l.provider, l.bucket,
       v.size AS file_size_bytes,
       v.original_size AS original_size_bytes,
       COALESCE(v.encoding = 'gzip', false) AS compressed,
       jsonb_strip_nulls(jsonb_build_object(
           'accuracy', v.accuracy, 'loss', v.loss, 'epochs', v.epochs,
           'model_type', v.model_type, 'dataset_count', v.dataset_count,
           'training_split', v.training_split) || COALESCE(v.other_metrics, '{}'::jsonb))
           AS results_metadata,
       v.sha256
FROM stowage.versions v
JOIN stowage.artifacts a USING (org, folder, family, extension)
LEFT JOIN LATERAL (
    SELECT o.provider, o.bucket, o.key FROM stowage.locations o
    WHERE o.org = v.org AND o.folder = v.folder AND o.family = v.family
      AND o.extension = v.extension AND o.version_sha256 = v.sha256 AND NOT o.deleted
    ORDER BY o.stored_ns LIMIT 1) l ON true
WHERE NOT v.deleted AND NOT a.deleted AND a.kind <> 'dataset'
  AND (NOT row_security_active('stowage.versions') OR v.org IN (SELECT stowage.my_orgs()));

CREATE VIEW stowage.training_datasets AS
SELECT v.org || ':' || v.folder || v.family || '.' || v.extension || '@' || v.version AS id,
       v.member AS user_id,
       v.org,
       v.folder || v.family || CASE WHEN v.extension = '' THEN '' ELSE '.' || v.extension END
           AS name,
       v.extension AS format,
       v.size AS file_size_bytes,
       l.bucket || '/' || l.key AS storage_path,
       jsonb_strip_nulls(jsonb_build_object('sha256', v.sha256, 'version', v.version,
           'provider', l.provider, 'compressed', COALESCE(v.encoding = 'gzip', false),
           'dataset_count', v.dataset_count)) AS metadata,
       to_timestamp(v.created_ns / 1e9) AS created_at
FROM stowage.versions v
JOIN stowage.artifacts a USING (org, folder, family, extension)
LEFT JOIN LATERAL (
    SELECT o.provider, o.bucket, o.key FROM stowage.locations o
    WHERE o.org = v.org AND o.folder = v.folder AND o.family = v.family
      AND o.extension = v.extension AND o.version_sha256 = v.sha256 AND NOT o.deleted
    ORDER BY o.stored_ns LIMIT 1) l ON true
WHERE NOT v.deleted AND NOT a.deleted AND a.kind = 'dataset'
  AND (NOT row_security_active('stowage.versions') OR v.org IN (SELECT stowage.my_orgs()));

-- Members read through RLS; unbound roles see nothing. On Supabase the REST API's
-- `authenticated` role is such a role once the schema is exposed.
GRANT USAGE ON SCHEMA stowage TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA stowage TO PUBLIC;
"#];

/// The number of migrations this build knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;
