//! Listing, removing, copying and signing objects, and bucket operations.

use super::*;

/// Whether a listing entry is an object or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An object.
    Object,
    /// A common prefix.
    Folder,
}

/// One listed object or folder.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Entry {
    /// Object or folder.
    pub kind: EntryKind,
    /// The key, or the prefix ending in `/`.
    pub name: String,
    /// Size in bytes (objects).
    pub size: Option<u64>,
    /// Last written (objects, when known).
    #[ts(type = "string | null")]
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_modified: Option<OffsetDateTime>,
    /// The provider's ETag.
    pub etag: Option<String>,
}

/// List a bucket or folder: one level (folders grouped) or, with `recursive`, every object.
pub async fn list(store: &dyn Store, loc: &Location, recursive: bool) -> Result<Vec<Entry>> {
    let options = ListOptions {
        prefix: loc.path.clone(),
        delimiter: !recursive,
        page_size: None,
    };
    Ok(store
        .list(&loc.bucket, options)
        .map_ok(|e| match e {
            ListEntry::Object(m) => Entry {
                kind: EntryKind::Object,
                name: m.key.to_string(),
                size: Some(m.size),
                last_modified: m.last_modified,
                etag: m.etag,
            },
            ListEntry::Prefix(p) => Entry {
                kind: EntryKind::Folder,
                name: p,
                size: None,
                last_modified: None,
                etag: None,
            },
        })
        .try_collect()
        .await?)
}

/// What a remove did (or would do).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct RemoveOutcome {
    /// The bucket.
    pub bucket: String,
    /// The keys removed.
    pub keys: Vec<String>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// What `remove` did: the keys removed, and when it stopped early, why. A removal that fails
/// part of the way still names what it removed, so the catalog records exactly that.
pub struct Removal {
    pub outcome: RemoveOutcome,
    pub error: Option<Error>,
}

/// Remove one object (a missing one is NotFound, so a typo is reported) or, with
/// `recursive`, the object and everything in the folder of that name.
pub async fn remove(
    store: &dyn Store,
    loc: &Location,
    recursive: bool,
    dry_run: bool,
) -> Result<Removal> {
    let mut keys: Vec<Key> = Vec::new();
    if !recursive {
        let path = loc.object().map_err(|_| {
            Error::Usage(format!(
                "`{loc}` is a folder; pass --recursive to remove everything in it"
            ))
        })?;
        if let Err(e) = store.head(&path).await {
            if e.kind == ErrorKind::NotFound && has_objects(store, &loc.as_folder()).await {
                return Err(e
                    .hint(format!(
                        "`{loc}` is a folder; pass --recursive to remove everything in it"
                    ))
                    .into());
            }
            return Err(e.into());
        }
        keys.push(path.key);
    } else {
        if !loc.is_folder() {
            let path = loc.object()?;
            if exists(store, &path).await? {
                keys.push(path.key);
            }
        }
        let folder = loc.as_folder();
        for e in list(store, &folder, true).await? {
            if e.kind == EntryKind::Object {
                keys.push(Key::parse(&e.name)?);
            }
        }
        if keys.is_empty() {
            return Err(stowage_store::Error::new(
                ErrorKind::NotFound,
                store.provider(),
                "nothing to remove",
            )
            .at(&loc.bucket, Some(&loc.path))
            .hint("check the path with `stowage ls`")
            .into());
        }
    }
    let outcome = |keys: Vec<Key>| RemoveOutcome {
        bucket: loc.bucket.clone(),
        keys: keys.into_iter().map(|k| k.to_string()).collect(),
        dry_run,
    };
    if dry_run {
        return Ok(Removal {
            outcome: outcome(keys),
            error: None,
        });
    }
    if keys.len() == 1 && !recursive {
        store
            .delete(&ObjectPath {
                bucket: loc.bucket.clone(),
                key: keys[0].clone(),
            })
            .await?;
        return Ok(Removal {
            outcome: outcome(keys),
            error: None,
        });
    }
    let total = keys.len();
    let mut removed = Vec::with_capacity(total);
    let mut error = None;
    for chunk in keys.chunks(1000) {
        let failures = match store.delete_many(&loc.bucket, chunk).await {
            Ok(f) => f,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let failed: std::collections::HashSet<&Key> = failures.iter().map(|(k, _)| k).collect();
        removed.extend(chunk.iter().filter(|k| !failed.contains(k)).cloned());
        if let Some((_, e)) = failures.into_iter().next() {
            error = Some(e);
            break;
        }
    }
    let error = error.map(|e| Error::Several {
        failed: total - removed.len(),
        total,
        first: Box::new(e.into()),
    });
    Ok(Removal {
        outcome: outcome(removed),
        error,
    })
}

pub(super) async fn has_objects(store: &dyn Store, folder: &Location) -> bool {
    let options = ListOptions {
        prefix: folder.path.clone(),
        delimiter: true,
        page_size: Some(1),
    };
    matches!(
        store.list(&folder.bucket, options).next().await,
        Some(Ok(_))
    )
}

/// What a copy or move did (or would do).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct CopyOutcome {
    /// The source.
    pub from: String,
    /// The destination.
    pub to: String,
    /// Whether the source was removed (a move).
    pub moved: bool,
    /// Whether an existing destination is (or would be) replaced.
    pub replaced: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// Copy (or with `move_` move) one object within the store; a folder destination keeps the
/// source's file name.
pub async fn copy(
    store: &dyn Store,
    from: &Location,
    to: &Location,
    overwrite: bool,
    move_: bool,
    dry_run: bool,
) -> Result<CopyOutcome> {
    let src = from.object()?;
    let dst = to.object_for(src.key.file_name())?;
    store.check_key(&dst.key)?;
    if src == dst {
        return Err(Error::Usage(format!(
            "`{src}` is both source and destination"
        )));
    }
    store.head(&src).await?;
    let replaced = exists(store, &dst).await?;
    if replaced && !overwrite {
        return Err(stowage_store::Error::new(
            ErrorKind::AlreadyExists,
            store.provider(),
            "the destination exists",
        )
        .at(&dst.bucket, Some(dst.key.as_str()))
        .hint("pass --overwrite to replace it")
        .into());
    }
    if !dry_run {
        if move_ {
            store.rename(&src, &dst, overwrite).await?;
        } else {
            store.copy(&src, &dst, overwrite).await?;
        }
    }
    Ok(CopyOutcome {
        from: src.to_string(),
        to: dst.to_string(),
        moved: move_,
        replaced,
        dry_run,
    })
}

/// A signed URL and when it stops working.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct SignedUrl {
    /// The object.
    pub path: String,
    /// The URL (carries a signature, not the credentials).
    pub url: String,
    /// `get` or `put`.
    pub method: &'static str,
    /// When it expires.
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An expiring URL for `loc`. A download URL is only made for an object that exists.
pub async fn signed_url(
    store: &dyn Store,
    loc: &Location,
    method: UrlMethod,
    expires: Duration,
) -> Result<SignedUrl> {
    let path = loc.object()?;
    if method == UrlMethod::Get {
        store.head(&path).await?;
    }
    let url = store
        .signed_url(&path, method, expires)
        .await
        .map_err(|e| match e.kind {
            // `url` has no --overwrite: say what does work.
            ErrorKind::AlreadyExists if method == UrlMethod::Put => e.hint(format!(
                "this provider signs upload URLs only for new keys: remove the object first \
                 (`stowage rm {path}`), or sign another key"
            )),
            _ => e,
        })?;
    Ok(SignedUrl {
        path: path.to_string(),
        url,
        method: match method {
            UrlMethod::Get => "get",
            UrlMethod::Put => "put",
        },
        // Whole seconds: the URL's own expiry has no finer grain.
        expires_at: (OffsetDateTime::now_utc() + expires)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond"),
    })
}

/// A bucket as listed.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// Whether it is public, when the provider says.
    pub public: Option<bool>,
    /// When it was created, when the provider says.
    #[ts(type = "string | null")]
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
}

/// All buckets, by name.
pub async fn list_buckets(store: &dyn Store) -> Result<Vec<Bucket>> {
    let mut buckets: Vec<Bucket> = store
        .list_buckets()
        .await?
        .into_iter()
        .map(|b| Bucket {
            name: b.name,
            public: b.public,
            created: b.created,
        })
        .collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(buckets)
}

/// Create a bucket (private unless `public`); in a dry run only check it does not exist.
pub async fn create_bucket(
    store: &dyn Store,
    name: &str,
    public: bool,
    dry_run: bool,
) -> Result<()> {
    store.check_bucket(name)?;
    if dry_run {
        if list_buckets(store).await?.iter().any(|b| b.name == name) {
            return Err(stowage_store::Error::new(
                ErrorKind::AlreadyExists,
                store.provider(),
                "the bucket exists",
            )
            .bucket(name)
            .hint("choose another name")
            .into());
        }
        return Ok(());
    }
    let options = BucketOptions {
        public,
        ..Default::default()
    };
    Ok(store.create_bucket(name, &options).await?)
}

/// Delete an empty bucket; in a dry run only check that it exists and is empty.
pub async fn delete_bucket(store: &dyn Store, name: &str, dry_run: bool) -> Result<()> {
    if dry_run {
        if !list_buckets(store).await?.iter().any(|b| b.name == name) {
            return Err(stowage_store::Error::new(
                ErrorKind::NotFound,
                store.provider(),
                "no such bucket",
            )
            .bucket(name)
            .hint("list buckets with `stowage buckets ls`")
            .into());
        }
        let root = Location {
            bucket: name.to_string(),
            path: String::new(),
        };
        if has_objects(store, &root).await {
            return Err(stowage_store::Error::new(
                ErrorKind::Conflict,
                store.provider(),
                "the bucket is not empty",
            )
            .bucket(name)
            .hint(format!(
                "remove its objects first: `stowage rm --recursive {name}/`"
            ))
            .into());
        }
        return Ok(());
    }
    Ok(store.delete_bucket(name).await?)
}
