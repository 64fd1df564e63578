//! Where versions are stored, and the recording primitives every write goes through.

use super::*;

/// Where a version is stored, to record.
#[derive(Clone, Debug)]
pub struct NewLocation {
    /// The profile's name.
    pub profile: String,
    /// `local`, `s3` or `supabase`.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// When stored.
    pub stored_at: OffsetDateTime,
}

/// A recorded location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct StoredLocation {
    /// Its row id.
    pub id: i64,
    /// The version it holds.
    pub version_id: i64,
    /// The profile's name.
    pub profile: String,
    /// The provider.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// When stored.
    #[ts(type = "string")]
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
}

pub(super) fn location_row(r: &Row<'_>) -> rusqlite::Result<StoredLocation> {
    Ok(StoredLocation {
        id: r.get(0)?,
        version_id: r.get(1)?,
        profile: r.get(2)?,
        provider: r.get(3)?,
        bucket: r.get(4)?,
        key: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        etag: r.get(7)?,
        sha256: r.get(8)?,
        stored_at: from_ns(r.get(9)?),
    })
}

impl Catalog {
    /// Record where a version is stored (replacing what was recorded at that key).
    pub fn add_location(&self, version_id: i64, l: &NewLocation) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO locations (version_id, profile, provider, bucket, key, size, etag,
                   sha256, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (profile, bucket, key) DO UPDATE SET version_id = excluded.version_id,
                   provider = excluded.provider, size = excluded.size, etag = excluded.etag,
                   sha256 = excluded.sha256, stored_at = excluded.stored_at, last_read = NULL",
            )
            .and_then(|mut s| {
                s.execute(params![
                    version_id,
                    l.profile,
                    l.provider,
                    l.bucket,
                    l.key,
                    l.size as i64,
                    l.etag,
                    l.sha256,
                    to_ns(l.stored_at),
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// The location recorded at `profile`/`bucket`/`key`, if any: the catalog's claim that
    /// Stowage wrote that object.
    pub fn location_at(
        &self,
        profile: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<StoredLocation>> {
        self.conn
            .prepare_cached(
                "SELECT id, version_id, profile, provider, bucket, key, size, etag, sha256,
                   stored_at FROM locations WHERE profile = ?1 AND bucket = ?2 AND key = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![profile, bucket, key], location_row)
                    .optional()
            })
            .map_err(self.err())
    }

    /// Every location of a version.
    pub fn locations_of(&self, version_id: i64) -> Result<Vec<StoredLocation>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, version_id, profile, provider, bucket, key, size, etag, sha256,
                   stored_at FROM locations WHERE version_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([version_id], location_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Point a location at a new key (after the object was moved there).
    pub fn move_location(&self, location_id: i64, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE locations SET key = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![location_id, key]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Forget a location (its object was deleted).
    pub fn remove_location(&self, location_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM locations WHERE id = ?1")
            .and_then(|mut s| s.execute([location_id]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Note that a location was read now.
    pub fn touch_location(&self, location_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE locations SET last_read = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![location_id, now_ns()]))
            .map_err(self.err())?;
        Ok(())
    }

    /// An object stored at `l` holding `version_id`. An object it replaced (another version
    /// recorded at that key) is forgotten, and that version too when it was its last copy.
    pub fn record_stored(&self, version_id: i64, l: &NewLocation) -> Result<()> {
        let replaced = self
            .location_at(&l.profile, &l.bucket, &l.key)?
            .filter(|old| old.version_id != version_id);
        self.add_location(version_id, l)?;
        if let Some(old) = replaced {
            self.forget_version_if_unstored(old.version_id)?;
        }
        Ok(())
    }

    /// The object at `profile`/`bucket`/`key` was deleted: forget its location, and its
    /// version when that was the version's last copy. Returns the location forgotten.
    pub fn record_deleted(
        &self,
        profile: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<StoredLocation>> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            return Ok(None);
        };
        self.remove_location(l.id)?;
        self.forget_version_if_unstored(l.version_id)?;
        Ok(Some(l))
    }

    /// The object at `bucket`/`key` of `profile` was moved to `to_bucket`/`to_key`: its
    /// location moves with it (what was recorded at the destination was replaced).
    pub fn record_moved(
        &self,
        profile: &str,
        (bucket, key): (&str, &str),
        (to_bucket, to_key): (&str, &str),
    ) -> Result<bool> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            self.record_deleted(profile, to_bucket, to_key)?;
            return Ok(false);
        };
        if let Some(old) = self.location_at(profile, to_bucket, to_key)? {
            self.remove_location(old.id)?;
            if old.version_id != l.version_id {
                self.forget_version_if_unstored(old.version_id)?;
            }
        }
        self.conn
            .prepare_cached("UPDATE locations SET bucket = ?2, key = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![l.id, to_bucket, to_key]))
            .map_err(self.err())?;
        Ok(true)
    }

    /// The object at `bucket`/`key` of `profile` was copied to `to_bucket`/`to_key` on the
    /// same store: the copy is another location of its version. False when the source is
    /// not recorded (the destination's old record, if any, is forgotten: it was replaced).
    pub fn record_copied(
        &self,
        profile: &str,
        (bucket, key): (&str, &str),
        (to_bucket, to_key): (&str, &str),
    ) -> Result<bool> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            self.record_deleted(profile, to_bucket, to_key)?;
            return Ok(false);
        };
        self.record_stored(
            l.version_id,
            &NewLocation {
                profile: l.profile,
                provider: l.provider,
                bucket: to_bucket.to_string(),
                key: to_key.to_string(),
                size: l.size,
                etag: None,
                sha256: l.sha256,
                stored_at: OffsetDateTime::now_utc(),
            },
        )?;
        Ok(true)
    }

    /// Forget a version whose stored copies are all gone (it had locations, none is left).
    pub(super) fn forget_version_if_unstored(&self, version_id: i64) -> Result<()> {
        if self.locations_of(version_id)?.is_empty() {
            self.remove_version(version_id)?;
        }
        Ok(())
    }
}
