//! Listing: `POST /object/list` works one folder level at a time; levels are walked in
//! byte order of full names to list a prefix, recursively or by delimiter.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::metadata::{clean_etag, parse_time};
use super::urls::bucket_url;
use super::SupabaseStore;
use crate::error::{Error, Result};
use crate::{Key, ListEntry, ObjectMeta};

/// One row of `POST /object/list/{bucket}`.
#[derive(Deserialize, Debug)]
struct ListRow {
    name: String,
    id: Option<String>,
    updated_at: Option<String>,
    metadata: Option<Value>,
}

/// A level of a listing, folders and objects in byte order of their full names.
pub(super) enum LevelEntry {
    /// A folder's full path, without the trailing `/`.
    Folder(String),
    Object(ObjectMeta),
}

impl LevelEntry {
    fn sort_name(&self) -> String {
        match self {
            LevelEntry::Folder(p) => format!("{p}/"),
            LevelEntry::Object(m) => m.key.as_str().to_string(),
        }
    }
}

pub(super) struct ListState {
    pub(super) bucket: String,
    /// The folder the prefix names fully (no trailing `/`) and the rest of it.
    pub(super) folder: String,
    pub(super) partial: String,
    pub(super) delimiter: bool,
    pub(super) page: u32,
    pub(super) started: bool,
    pub(super) done: bool,
    pub(super) emitted: u64,
    pub(super) stack: Vec<std::collections::VecDeque<LevelEntry>>,
}

impl SupabaseStore {
    /// One folder level (`POST /object/list`), all pages, in byte order of full names.
    pub(super) async fn list_level(
        &self,
        bucket: &str,
        folder: &str,
        search: &str,
        page: u32,
    ) -> Result<std::collections::VecDeque<LevelEntry>> {
        let url = bucket_url(&self.api, "object/list", bucket);
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let mut body = json!({
                "prefix": folder,
                "limit": page,
                "offset": offset,
                "sortBy": { "column": "name", "order": "asc" },
            });
            if !search.is_empty() {
                body["search"] = json!(search);
            }
            let rows: Vec<ListRow> = self
                .send_json(
                    self.request(Method::POST, &url).json(&body),
                    "listing",
                    bucket,
                    None,
                )
                .await?;
            let n = rows.len() as u64;
            for row in rows {
                // `search` is a case-insensitive LIKE on the server; keep exact matches only.
                // An empty name is an object whose key ends in `/`, which no Key can name.
                if row.name.is_empty() || !row.name.starts_with(search) {
                    continue;
                }
                let full = if folder.is_empty() {
                    row.name.clone()
                } else {
                    format!("{folder}/{}", row.name)
                };
                let Ok(key) = Key::parse(&full) else {
                    tracing::debug!("skipping a listed name no key can hold: {full:?}");
                    continue;
                };
                if row.id.is_none() {
                    out.push(LevelEntry::Folder(key.as_str().to_string()));
                    continue;
                }
                let m = row.metadata.as_ref();
                let get = |k: &str| m.and_then(|m| m.get(k));
                out.push(LevelEntry::Object(ObjectMeta {
                    key,
                    size: get("size")
                        .or_else(|| get("contentLength"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    last_modified: parse_time(get("lastModified").and_then(Value::as_str))
                        .or_else(|| parse_time(row.updated_at.as_deref())),
                    etag: get("eTag").and_then(Value::as_str).map(clean_etag),
                    sha256: None,
                    content_type: get("mimetype").and_then(Value::as_str).map(str::to_string),
                    checksum: None,
                }));
            }
            if n < u64::from(page) {
                break;
            }
            offset += n;
        }
        // Folders come first from the server; the trait wants byte order of full names.
        out.sort_by_cached_key(LevelEntry::sort_name);
        Ok(out.into())
    }

    pub(super) async fn next_list_entry(&self, st: &mut ListState) -> Option<Result<ListEntry>> {
        if st.done {
            return None;
        }
        let fail = |st: &mut ListState, e: Error| {
            st.done = true;
            st.stack.clear();
            Some(Err(e))
        };
        if !st.started {
            st.started = true;
            match self
                .list_level(&st.bucket, &st.folder, &st.partial, st.page)
                .await
            {
                Ok(level) => st.stack.push(level),
                Err(e) => return fail(st, e),
            }
        }
        loop {
            let Some(top) = st.stack.last_mut() else {
                st.done = true;
                // The server lists a missing bucket as empty; say so instead.
                if st.emitted == 0 {
                    if let Err(e) = self.require_bucket(&st.bucket).await {
                        return Some(Err(e));
                    }
                }
                return None;
            };
            match top.pop_front() {
                None => {
                    st.stack.pop();
                }
                Some(LevelEntry::Object(m)) => {
                    st.emitted += 1;
                    return Some(Ok(ListEntry::Object(m)));
                }
                Some(LevelEntry::Folder(p)) if st.delimiter => {
                    st.emitted += 1;
                    return Some(Ok(ListEntry::Prefix(format!("{p}/"))));
                }
                Some(LevelEntry::Folder(p)) => {
                    match self.list_level(&st.bucket, &p, "", st.page).await {
                        Ok(level) => st.stack.push(level),
                        Err(e) => return fail(st, e),
                    }
                }
            }
        }
    }
}
