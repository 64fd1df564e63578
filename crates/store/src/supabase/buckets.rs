//! Bucket requests: a bucket's row, emptying a bucket, and clearing the folder entries that
//! keep a deleted bucket referenced. Bucket names follow Supabase's rule
//! ([`crate::key::validate_supabase_bucket`]), not S3's.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::list::LevelEntry;
use super::urls::{bucket_url, object_url};
use super::{SupabaseStore, DEFAULT_CONTENT_TYPE, DEFAULT_PAGE, PROVIDER};
use crate::error::{Error, ErrorKind, Result};
use crate::key::validate_supabase_bucket as validate_bucket;
use crate::{ListOptions, Store};

/// `GET /bucket` rows and `GET /bucket/{id}`.
#[derive(Deserialize, Debug)]
pub(super) struct BucketRow {
    #[serde(default)]
    pub(super) id: Option<String>,
    pub(super) name: String,
    pub(super) public: Option<bool>,
    pub(super) file_size_limit: Option<Value>,
    pub(super) created_at: Option<String>,
    #[serde(default)]
    allowed_mime_types: Option<Vec<String>>,
}

impl SupabaseStore {
    /// The bucket's row, or None when it does not exist.
    pub(super) async fn bucket_row(&self, bucket: &str) -> Result<Option<BucketRow>> {
        let url = bucket_url(&self.api, "bucket", bucket);
        match self
            .send_raw(
                self.request(Method::GET, &url),
                "reading the bucket",
                bucket,
                None,
            )
            .await
        {
            Ok(resp) => Ok(Some(
                self.json(resp, "reading the bucket", bucket, None).await?,
            )),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// NotFound unless the bucket exists.
    pub(super) async fn require_bucket(&self, bucket: &str) -> Result<()> {
        match self.bucket_row(bucket).await? {
            Some(_) => Ok(()),
            None => Err(
                Error::new(ErrorKind::NotFound, PROVIDER, "the bucket does not exist")
                    .bucket(bucket),
            ),
        }
    }

    /// Ask the server to delete every object of `bucket`. The server does it in the
    /// background ("may take up to an hour"); this waits a little for the bucket to list
    /// empty and returns either way.
    pub async fn empty_bucket(&self, bucket: &str) -> Result<()> {
        validate_bucket(PROVIDER, bucket)?;
        let url = format!("{}/empty", bucket_url(&self.api, "bucket", bucket));
        self.send(
            self.request(Method::POST, &url),
            "emptying the bucket",
            bucket,
            None,
        )
        .await?;
        for attempt in 0..20u64 {
            let first = self.list(bucket, ListOptions::default()).next().await;
            match first {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => {}
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
        Ok(())
    }

    /// Delete a bucket the server says is still referenced ("The related resource does not
    /// exist"): an object whose key ended in `/` was deleted and left its folder entry behind
    /// (supabase/storage v1.26.5). The recorded way out: upload an object into each such
    /// folder and delete it, then delete the bucket again.
    pub(super) async fn clear_phantom_folders(&self, bucket: &str) -> Result<u64> {
        let mut cleared = 0;
        let mut pending = vec![String::new()];
        while let Some(folder) = pending.pop() {
            let level = self.list_level(bucket, &folder, "", DEFAULT_PAGE).await?;
            let mut subfolders = 0;
            for entry in level {
                match entry {
                    LevelEntry::Folder(f) => {
                        subfolders += 1;
                        pending.push(f);
                    }
                    // The bucket has objects after all: not this case.
                    LevelEntry::Object(_) => return Ok(0),
                }
            }
            if subfolders == 0 && !folder.is_empty() {
                self.touch_folder(bucket, &folder).await?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Upload an empty object into `folder` and delete it (clears a phantom folder entry).
    async fn touch_folder(&self, bucket: &str, folder: &str) -> Result<()> {
        let key = format!("{folder}/.stowage-folder-cleanup");
        // A bucket that restricts content types must accept the placeholder's.
        let content_type = self
            .bucket_row(bucket)
            .await?
            .and_then(|r| r.allowed_mime_types)
            .and_then(|types| types.into_iter().next())
            .map(|t| match t.strip_suffix("/*") {
                Some(top) => format!("{top}/octet-stream"),
                None => t,
            })
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
        let url = object_url(&self.api, "object", bucket, &key);
        let what = "clearing a leftover folder entry";
        self.send(
            self.request(Method::POST, &url)
                .header(CONTENT_TYPE, content_type)
                .header("x-upsert", "true")
                .body(Bytes::new()),
            what,
            bucket,
            Some(&key),
        )
        .await?;
        self.send(self.request(Method::DELETE, &url), what, bucket, Some(&key))
            .await?;
        Ok(())
    }
}
