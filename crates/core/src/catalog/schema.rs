//! The catalog's schema: its migrations, applied in order when a catalog opens.

use super::*;

/// Recompute one artifact's summary (the library's row): `$id` is the SQL expression naming
/// the artifact. Used by the triggers below, so every write keeps it true.
macro_rules! summary_update {
    ($id:literal) => {
        concat!(
            "UPDATE artifacts SET
               n_versions = (SELECT COUNT(*) FROM versions v WHERE v.artifact_id = artifacts.id),
               stored_bytes = (SELECT COALESCE(SUM(v.size), 0) FROM versions v
                                WHERE v.artifact_id = artifacts.id),
               original_bytes = (SELECT COALESCE(SUM(v.original_size), 0) FROM versions v
                                  WHERE v.artifact_id = artifacts.id),
               updated_at = (SELECT MAX(v.created_at) FROM versions v
                              WHERE v.artifact_id = artifacts.id),
               latest_id = (SELECT v.id FROM versions v WHERE v.artifact_id = artifacts.id
                             ORDER BY v.sort_key DESC, v.id DESC LIMIT 1),
               latest_version = (SELECT v.version FROM versions v
                                  WHERE v.artifact_id = artifacts.id
                                  ORDER BY v.sort_key DESC, v.id DESC LIMIT 1),
               accuracy = (SELECT v.accuracy FROM versions v WHERE v.artifact_id = artifacts.id
                            ORDER BY v.sort_key DESC, v.id DESC LIMIT 1),
               loss = (SELECT v.loss FROM versions v WHERE v.artifact_id = artifacts.id
                        ORDER BY v.sort_key DESC, v.id DESC LIMIT 1),
               n_locations = (SELECT COUNT(*) FROM locations o
                               JOIN versions v ON v.id = o.version_id
                               WHERE v.artifact_id = artifacts.id),
               profiles = COALESCE((SELECT ',' || GROUP_CONCAT(DISTINCT o.profile) || ','
                                     FROM locations o JOIN versions v ON v.id = o.version_id
                                     WHERE v.artifact_id = artifacts.id), ''),
               providers = COALESCE((SELECT ',' || GROUP_CONCAT(DISTINCT o.provider) || ','
                                      FROM locations o JOIN versions v ON v.id = o.version_id
                                      WHERE v.artifact_id = artifacts.id), ''),
               labels = COALESCE((SELECT ',' || GROUP_CONCAT(l.name) || ',' FROM labels l
                                   WHERE l.artifact_id = artifacts.id), '')
             WHERE id = ",
            $id,
            ";"
        )
    };
}

/// Triggers that keep the library's summary: paused while a rebuild fills the catalog.
macro_rules! not_bulk {
    () => {
        "NOT EXISTS (SELECT 1 FROM team_state WHERE key = 'bulk')"
    };
}

/// Triggers that write the team outbox: on once linked, off while pulled changes apply.
macro_rules! outbox_on {
    () => {
        "EXISTS (SELECT 1 FROM team_state WHERE key = 'linked')
         AND NOT EXISTS (SELECT 1 FROM team_state WHERE key = 'applying')"
    };
}

/// Advance the hybrid logical clock: the wall clock in milliseconds shifted left 16 bits,
/// or one more than the last value when that is later.
macro_rules! hlc_tick {
    () => {
        "UPDATE team_state SET value = MAX(CAST(value AS INTEGER) + 1,
             CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 65536)
         WHERE key = 'hlc';"
    };
}

/// The clock's current value.
macro_rules! hlc_now {
    () => {
        "(SELECT CAST(value AS INTEGER) FROM team_state WHERE key = 'hlc')"
    };
}

/// Schema migrations, applied in order; `PRAGMA user_version` counts how many ran. Never edit
/// one that has shipped: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE artifacts (
        id          INTEGER PRIMARY KEY,
        org         TEXT NOT NULL DEFAULT '',
        family      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        framework   TEXT,
        folder      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        UNIQUE (family, org)
    );
    CREATE TABLE versions (
        id              INTEGER PRIMARY KEY,
        artifact_id     INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        version         TEXT NOT NULL,
        sort_key        TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        size            INTEGER NOT NULL,
        original_size   INTEGER NOT NULL,
        encoding        TEXT,
        mtime_ns        INTEGER,
        source_path     TEXT,
        created_at      INTEGER NOT NULL,
        accuracy        REAL,
        loss            REAL,
        epochs          INTEGER,
        model_type      TEXT,
        dataset_count   INTEGER,
        training_split  TEXT,
        other_metrics   TEXT,
        UNIQUE (artifact_id, version)
    );
    CREATE INDEX versions_by_artifact_sort ON versions(artifact_id, sort_key);
    CREATE INDEX versions_by_artifact_sha ON versions(artifact_id, sha256);
    CREATE INDEX versions_by_accuracy ON versions(accuracy) WHERE accuracy IS NOT NULL;
    CREATE INDEX versions_by_loss ON versions(loss) WHERE loss IS NOT NULL;
    CREATE INDEX versions_by_created ON versions(created_at);
    CREATE TABLE locations (
        id          INTEGER PRIMARY KEY,
        version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        profile     TEXT NOT NULL,
        provider    TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        key         TEXT NOT NULL,
        size        INTEGER NOT NULL,
        etag        TEXT,
        sha256      TEXT,
        stored_at   INTEGER NOT NULL,
        last_read   INTEGER,
        UNIQUE (profile, bucket, key)
    );
    CREATE INDEX locations_by_version ON locations(version_id);
    CREATE TABLE transfers (
        id          INTEGER PRIMARY KEY,
        profile     TEXT NOT NULL,
        provider    TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        direction   TEXT NOT NULL CHECK (direction IN ('upload', 'download')),
        bytes       INTEGER NOT NULL,
        requests    INTEGER NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE INDEX transfers_by_at ON transfers(at);
    CREATE TABLE audit_events (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        action   TEXT NOT NULL
                 CHECK (action IN ('put', 'get', 'url', 'delete', 'restore', 'label', 'gc')),
        profile  TEXT,
        bucket   TEXT,
        key      TEXT,
        detail   TEXT
    );
    CREATE INDEX audit_by_at ON audit_events(at);
    CREATE TABLE labels (
        id           INTEGER PRIMARY KEY,
        artifact_id  INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        version_id   INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        set_at       INTEGER NOT NULL,
        UNIQUE (artifact_id, name)
    );
    CREATE INDEX labels_by_version ON labels(version_id);
    CREATE TABLE folders (
        path      TEXT PRIMARY KEY,
        org       TEXT,
        added_at  INTEGER NOT NULL
    );
    CREATE TABLE file_state (
        path       TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        synced_at  INTEGER NOT NULL
    );
    "#,
    // 2: the auto-sync queue (crate::queue): one row per planned transfer, written before any
    // byte moves; and each provider's health.
    r#"
    CREATE TABLE queue (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,
        dir         TEXT NOT NULL,
        org         TEXT,
        role        TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
        profile     TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        key         TEXT NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        state       TEXT NOT NULL
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled',
                                     'superseded')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        error_kind  TEXT,
        sha256      TEXT,
        version     TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX queue_by_state ON queue(state, next_at);
    CREATE INDEX queue_by_path ON queue(path, profile);
    CREATE TABLE provider_health (
        profile     TEXT PRIMARY KEY,
        up          INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        last_error  TEXT,
        checked_at  INTEGER NOT NULL
    );
    "#,
    // 3: an artifact is identified by its folder, family and extension, not its family alone
    // (`generations/gen-001/main.py` and `generations/gen-002/main.py` are two artifacts;
    // `models/model-T.pt` and `results/model-T.json` too). Rows from before keep an empty
    // extension until sync or put meets them again. And sync remembers the decision it
    // stored each file by (destination, key, compression), so a policy edit re-plans it.
    // Foreign keys are off while migrations run (see `Catalog::migrate`).
    r#"
    CREATE TABLE artifacts_v3 (
        id          INTEGER PRIMARY KEY,
        org         TEXT NOT NULL DEFAULT '',
        family      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        framework   TEXT,
        folder      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        extension   TEXT NOT NULL DEFAULT '',
        UNIQUE (org, folder, family, extension)
    );
    INSERT INTO artifacts_v3 (id, org, family, kind, framework, folder, created_at)
        SELECT id, org, family, kind, framework, folder, created_at FROM artifacts;
    DROP TABLE artifacts;
    ALTER TABLE artifacts_v3 RENAME TO artifacts;
    CREATE INDEX artifacts_by_family ON artifacts(family, org);
    ALTER TABLE file_state ADD COLUMN decision TEXT;
    "#,
    // 4: the library lists artifacts by name a page at a time, in index order.
    r#"
    CREATE INDEX artifacts_by_name ON artifacts(folder, family, extension, org);
    "#,
    // 5: each artifact carries its library row (version count, latest version and its
    // metrics, sizes, where it is stored, labels), kept true by triggers on every write to
    // versions, locations and labels: the library filters and sorts one table, by index.
    concat!(
        "ALTER TABLE artifacts ADD COLUMN n_versions INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE artifacts ADD COLUMN latest_id INTEGER;
         ALTER TABLE artifacts ADD COLUMN latest_version TEXT;
         ALTER TABLE artifacts ADD COLUMN updated_at INTEGER;
         ALTER TABLE artifacts ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE artifacts ADD COLUMN original_bytes INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE artifacts ADD COLUMN n_locations INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE artifacts ADD COLUMN profiles TEXT NOT NULL DEFAULT '';
         ALTER TABLE artifacts ADD COLUMN providers TEXT NOT NULL DEFAULT '';
         ALTER TABLE artifacts ADD COLUMN labels TEXT NOT NULL DEFAULT '';
         ALTER TABLE artifacts ADD COLUMN accuracy REAL;
         ALTER TABLE artifacts ADD COLUMN loss REAL;
         CREATE TRIGGER versions_summary_insert AFTER INSERT ON versions BEGIN ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER versions_summary_delete AFTER DELETE ON versions BEGIN ",
        summary_update!("OLD.artifact_id"),
        " END;
         CREATE TRIGGER versions_summary_update AFTER UPDATE ON versions BEGIN ",
        summary_update!("OLD.artifact_id"),
        " ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER locations_summary_insert AFTER INSERT ON locations BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = NEW.version_id)"),
        " END;
         CREATE TRIGGER locations_summary_delete AFTER DELETE ON locations BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = OLD.version_id)"),
        " END;
         CREATE TRIGGER locations_summary_update AFTER UPDATE ON locations BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = OLD.version_id)"),
        " ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = NEW.version_id)"),
        " END;
         CREATE TRIGGER labels_summary_insert AFTER INSERT ON labels BEGIN ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER labels_summary_delete AFTER DELETE ON labels BEGIN ",
        summary_update!("OLD.artifact_id"),
        " END;
         CREATE TRIGGER labels_summary_update AFTER UPDATE ON labels BEGIN ",
        summary_update!("OLD.artifact_id"),
        " ",
        summary_update!("NEW.artifact_id"),
        " END;
         -- Every artifact's row, once, for catalogs written before.
         ",
        summary_update!("artifacts.id"),
        "
         CREATE INDEX artifacts_by_updated ON artifacts(updated_at) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_stored ON artifacts(stored_bytes) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_original ON artifacts(original_bytes) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_versions ON artifacts(n_versions) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_accuracy ON artifacts(accuracy) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_loss ON artifacts(loss) WHERE n_versions > 0;
         CREATE INDEX artifacts_by_kind ON artifacts(kind, folder, family, extension)
             WHERE n_versions > 0;
         CREATE INDEX artifacts_by_org ON artifacts(org, folder, family, extension)
             WHERE n_versions > 0;
        "
    ),
    // 6: a registered project folder can be paused (watch passes over it until resumed).
    r#"
    ALTER TABLE folders ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: versions found by their source file (sync's per-file question); and the team
    // catalog (crate::team). Rows pulled from teammates carry their member name
    // (NULL: this user's own); labels carry the hybrid logical clock of their last move.
    // Once the catalog is linked to a team database, triggers write every change of an
    // artifact, version, location, label or transfer into the outbox in the same
    // transaction, except while pulled changes are applied. The library's summary triggers
    // pause during a rebuild (`bulk`), which recomputes every summary once at its end.
    concat!(
        "CREATE TABLE team_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE team_outbox (
             id     INTEGER PRIMARY KEY AUTOINCREMENT,
             entity TEXT NOT NULL
                    CHECK (entity IN ('artifact', 'version', 'location', 'label', 'transfer')),
             op     TEXT NOT NULL CHECK (op IN ('put', 'del')),
             key    TEXT NOT NULL,
             value  TEXT
         );
         ALTER TABLE versions ADD COLUMN member TEXT;
         ALTER TABLE locations ADD COLUMN member TEXT;
         ALTER TABLE transfers ADD COLUMN member TEXT;
         ALTER TABLE labels ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
         CREATE INDEX versions_by_member ON versions(artifact_id) WHERE member IS NULL;
         -- sync asks, per file, which artifact the file was recorded under: without this a
         -- first sync into a large catalog scanned every version for every file.
         CREATE INDEX versions_by_source ON versions(source_path) WHERE source_path IS NOT NULL;
         CREATE INDEX locations_by_place ON locations(provider, bucket, key);
         DROP TRIGGER versions_summary_insert;
         DROP TRIGGER versions_summary_delete;
         DROP TRIGGER versions_summary_update;
         DROP TRIGGER locations_summary_insert;
         DROP TRIGGER locations_summary_delete;
         DROP TRIGGER locations_summary_update;
         DROP TRIGGER labels_summary_insert;
         DROP TRIGGER labels_summary_delete;
         DROP TRIGGER labels_summary_update;
         CREATE TRIGGER versions_summary_insert AFTER INSERT ON versions WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER versions_summary_delete AFTER DELETE ON versions WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("OLD.artifact_id"),
        " END;
         CREATE TRIGGER versions_summary_update AFTER UPDATE ON versions WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("OLD.artifact_id"),
        " ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER locations_summary_insert AFTER INSERT ON locations WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = NEW.version_id)"),
        " END;
         CREATE TRIGGER locations_summary_delete AFTER DELETE ON locations WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = OLD.version_id)"),
        " END;
         CREATE TRIGGER locations_summary_update AFTER UPDATE ON locations WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = OLD.version_id)"),
        " ",
        summary_update!("(SELECT artifact_id FROM versions WHERE id = NEW.version_id)"),
        " END;
         CREATE TRIGGER labels_summary_insert AFTER INSERT ON labels WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("NEW.artifact_id"),
        " END;
         CREATE TRIGGER labels_summary_delete AFTER DELETE ON labels WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("OLD.artifact_id"),
        " END;
         CREATE TRIGGER labels_summary_update AFTER UPDATE OF artifact_id, name, version_id
             ON labels WHEN ",
        not_bulk!(),
        " BEGIN ",
        summary_update!("OLD.artifact_id"),
        " ",
        summary_update!("NEW.artifact_id"),
        " END;
         -- The outbox.
         CREATE TRIGGER team_artifacts_insert AFTER INSERT ON artifacts WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('artifact', 'put', json_array(NEW.org, NEW.folder, NEW.family,
                                                       NEW.extension));
         END;
         CREATE TRIGGER team_artifacts_update
             AFTER UPDATE OF org, folder, family, extension, kind, framework ON artifacts WHEN ",
        outbox_on!(),
        " BEGIN
             -- A new name re-keys the artifact and everything under it.
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'artifact', 'del', json_array(OLD.org, OLD.folder, OLD.family,
                                                      OLD.extension)
                 WHERE (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'del', json_array(OLD.org, OLD.folder, OLD.family,
                                                     OLD.extension, v.version, v.sha256)
                 FROM versions v WHERE v.artifact_id = NEW.id
                   AND (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
             INSERT INTO team_outbox (entity, op, key, value)
                 SELECT 'label', 'del', json_array(OLD.org, OLD.folder, OLD.family,
                                                   OLD.extension, l.name),
                        json_array(v.version, v.sha256, l.hlc, l.hlc)
                 FROM labels l JOIN versions v ON v.id = l.version_id
                 WHERE l.artifact_id = NEW.id
                   AND (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('artifact', 'put', json_array(NEW.org, NEW.folder, NEW.family,
                                                       NEW.extension));
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'put', json_array(NEW.org, NEW.folder, NEW.family,
                                                     NEW.extension, v.version, v.sha256)
                 FROM versions v WHERE v.artifact_id = NEW.id
                   AND (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'location', 'put', json_array(o.provider, o.bucket, o.key)
                 FROM locations o JOIN versions v ON v.id = o.version_id
                 WHERE v.artifact_id = NEW.id
                   AND (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
             INSERT INTO team_outbox (entity, op, key, value)
                 SELECT 'label', 'put', json_array(NEW.org, NEW.folder, NEW.family,
                                                   NEW.extension, l.name),
                        json_array(v.version, v.sha256, l.hlc, l.hlc)
                 FROM labels l JOIN versions v ON v.id = l.version_id
                 WHERE l.artifact_id = NEW.id
                   AND (OLD.org, OLD.folder, OLD.family, OLD.extension)
                       IS NOT (NEW.org, NEW.folder, NEW.family, NEW.extension);
         END;
         CREATE TRIGGER team_artifacts_delete AFTER DELETE ON artifacts WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('artifact', 'del', json_array(OLD.org, OLD.folder, OLD.family,
                                                       OLD.extension));
         END;
         CREATE TRIGGER team_versions_insert AFTER INSERT ON versions WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'put', json_array(a.org, a.folder, a.family, a.extension,
                                                     NEW.version, NEW.sha256)
                 FROM artifacts a WHERE a.id = NEW.artifact_id;
         END;
         CREATE TRIGGER team_versions_update AFTER UPDATE ON versions WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'del', json_array(a.org, a.folder, a.family, a.extension,
                                                     OLD.version, OLD.sha256)
                 FROM artifacts a WHERE a.id = OLD.artifact_id
                   AND (OLD.artifact_id, OLD.version, OLD.sha256)
                       IS NOT (NEW.artifact_id, NEW.version, NEW.sha256);
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'put', json_array(a.org, a.folder, a.family, a.extension,
                                                     NEW.version, NEW.sha256)
                 FROM artifacts a WHERE a.id = NEW.artifact_id;
         END;
         CREATE TRIGGER team_versions_delete AFTER DELETE ON versions WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'version', 'del', json_array(a.org, a.folder, a.family, a.extension,
                                                     OLD.version, OLD.sha256)
                 FROM artifacts a WHERE a.id = OLD.artifact_id;
         END;
         CREATE TRIGGER team_locations_insert AFTER INSERT ON locations WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('location', 'put', json_array(NEW.provider, NEW.bucket, NEW.key));
         END;
         CREATE TRIGGER team_locations_update
             AFTER UPDATE OF version_id, profile, provider, bucket, key, size, etag, sha256,
                             stored_at ON locations WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 SELECT 'location', 'del', json_array(OLD.provider, OLD.bucket, OLD.key)
                 WHERE (OLD.provider, OLD.bucket, OLD.key)
                       IS NOT (NEW.provider, NEW.bucket, NEW.key);
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('location', 'put', json_array(NEW.provider, NEW.bucket, NEW.key));
         END;
         CREATE TRIGGER team_locations_delete AFTER DELETE ON locations WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key)
                 VALUES ('location', 'del', json_array(OLD.provider, OLD.bucket, OLD.key));
         END;
         -- A label move ticks the hybrid logical clock; the change carries the clock it
         -- replaced (its base), so the team database can tell a concurrent move.
         CREATE TRIGGER team_labels_insert AFTER INSERT ON labels WHEN ",
        outbox_on!(),
        " BEGIN ",
        hlc_tick!(),
        "    INSERT INTO team_outbox (entity, op, key, value)
                 SELECT 'label', 'put', json_array(a.org, a.folder, a.family, a.extension,
                                                   NEW.name),
                        json_array(v.version, v.sha256, ",
        hlc_now!(),
        ", 0)
                 FROM artifacts a, versions v WHERE a.id = NEW.artifact_id
                   AND v.id = NEW.version_id;
             UPDATE labels SET hlc = ",
        hlc_now!(),
        " WHERE id = NEW.id;
         END;
         CREATE TRIGGER team_labels_update AFTER UPDATE OF version_id ON labels WHEN ",
        outbox_on!(),
        " BEGIN ",
        hlc_tick!(),
        "    INSERT INTO team_outbox (entity, op, key, value)
                 SELECT 'label', 'put', json_array(a.org, a.folder, a.family, a.extension,
                                                   NEW.name),
                        json_array(v.version, v.sha256, ",
        hlc_now!(),
        ", OLD.hlc)
                 FROM artifacts a, versions v WHERE a.id = NEW.artifact_id
                   AND v.id = NEW.version_id;
             UPDATE labels SET hlc = ",
        hlc_now!(),
        " WHERE id = NEW.id;
         END;
         CREATE TRIGGER team_labels_delete AFTER DELETE ON labels WHEN ",
        outbox_on!(),
        " BEGIN ",
        hlc_tick!(),
        "    INSERT INTO team_outbox (entity, op, key, value)
                 SELECT 'label', 'del', json_array(a.org, a.folder, a.family, a.extension,
                                                   OLD.name),
                        json_array('', '', ",
        hlc_now!(),
        ", OLD.hlc)
                 FROM artifacts a WHERE a.id = OLD.artifact_id;
         END;
         CREATE TRIGGER team_transfers_insert AFTER INSERT ON transfers WHEN ",
        outbox_on!(),
        " BEGIN
             INSERT INTO team_outbox (entity, op, key) VALUES ('transfer', 'put', json_array(NEW.id));
         END;
        "
    ),
];

/// Every artifact's summary, computed in one pass over versions, locations and labels: what
/// [`summary_update!`] gives each artifact, for a catalog filled with its summaries paused
/// (a rebuild; artifacts without versions keep their empty summary).
pub(super) const SUMMARIZE_ALL: &str = "
    UPDATE artifacts SET n_versions = x.n, stored_bytes = x.sb, original_bytes = x.ob,
        updated_at = x.upd, latest_id = x.lid, latest_version = x.lver, accuracy = x.acc,
        loss = x.loss, n_locations = x.nl, profiles = x.profiles, providers = x.providers,
        labels = x.labels
    FROM (
        SELECT v.artifact_id AS id, v.n, v.sb, v.ob, v.upd, t.id AS lid, t.version AS lver,
            t.accuracy AS acc, t.loss, COALESCE(l.n, 0) AS nl,
            COALESCE(l.profiles, '') AS profiles, COALESCE(l.providers, '') AS providers,
            COALESCE(b.labels, '') AS labels
        FROM (SELECT artifact_id, COUNT(*) AS n, SUM(size) AS sb, SUM(original_size) AS ob,
                     MAX(created_at) AS upd
              FROM versions GROUP BY artifact_id) v
        JOIN (SELECT artifact_id, id, version, accuracy, loss FROM (
                  SELECT artifact_id, id, version, accuracy, loss,
                      ROW_NUMBER() OVER (PARTITION BY artifact_id
                                         ORDER BY sort_key DESC, id DESC) AS r
                  FROM versions)
              WHERE r = 1) t USING (artifact_id)
        LEFT JOIN (SELECT v.artifact_id, COUNT(*) AS n,
                          ',' || GROUP_CONCAT(DISTINCT o.profile) || ',' AS profiles,
                          ',' || GROUP_CONCAT(DISTINCT o.provider) || ',' AS providers
                   FROM locations o JOIN versions v ON v.id = o.version_id
                   GROUP BY v.artifact_id) l USING (artifact_id)
        LEFT JOIN (SELECT artifact_id, ',' || GROUP_CONCAT(name) || ',' AS labels
                   FROM labels GROUP BY artifact_id) b USING (artifact_id)
    ) AS x
    WHERE x.id = artifacts.id;";

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

impl Catalog {
    pub(super) fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let current = self.schema_version()?;
        if current > SCHEMA_VERSION {
            return Err(Error::Config(format!(
                "the catalog {} was written by a newer Stowage (schema {current}, this one \
                 knows {SCHEMA_VERSION}); upgrade Stowage",
                self.path.display()
            )));
        }
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        // A migration may rebuild a table others reference: with foreign keys on, dropping
        // the old table would cascade. They are checked before each commit instead.
        self.conn
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            // Each migration and its version bump commit together, or not at all.
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if let Some(table) = broken {
                return Err(Error::Config(format!(
                    "upgrading the catalog {} to schema {} left rows in `{table}` pointing \
                     nowhere; nothing was changed. Keep the file and report this",
                    path.display(),
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", (i + 1) as u32)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        self.resort_number_versions()
    }

    /// Number versions recorded before pre-releases were ordered (sort keys without the `,`
    /// that ends the components) get today's sort key, so old and new versions of one
    /// family order together. Runs after an upgrade; a no-op once done.
    pub(super) fn resort_number_versions(&self) -> Result<()> {
        let old: Vec<(i64, String)> = self
            .conn
            .prepare(
                "SELECT id, version FROM versions
                 WHERE substr(sort_key, 1, 1) = 'N' AND instr(sort_key, ',') = 0",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.err())?;
        if old.is_empty() {
            return Ok(());
        }
        self.batch(|c| {
            for (id, tag) in &old {
                let (base, content) = match tag.split_once('+') {
                    Some((b, n)) => (b, Some(n)),
                    None => (tag.as_str(), None),
                };
                let parsed = crate::version::parse_name(&format!("x_{base}")).version;
                let Some(t @ crate::version::VersionTag::Number(parts, _)) = &parsed else {
                    continue;
                };
                let mut key = crate::version::number_sort_key(parts, &t.prerelease());
                if let Some(n) = content {
                    key.push('+');
                    key.push_str(&sort_key(n));
                }
                c.conn
                    .prepare_cached("UPDATE versions SET sort_key = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, key]))
                    .map_err(c.err())?;
            }
            Ok(())
        })
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_error(&self.path, e))
    }
}
