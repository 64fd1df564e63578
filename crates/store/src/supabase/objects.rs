//! Object requests the store's operations build on: an object's metadata, the standard
//! (one-request) upload, the download that verifies an upload, and the server-side move.

use bytes::Bytes;
use futures::stream::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::errors::{destination_error, transport_error};
use super::metadata::{clean_etag, parse_time, recorded_sha256, user_metadata_header};
use super::urls::object_url;
use super::{SupabaseStore, DEFAULT_CONTENT_TYPE};
use crate::error::Result;
use crate::{ObjectMeta, ObjectPath, PutOptions, TransferEvent};

/// `GET /object/info/{bucket}/{key}`.
#[derive(Deserialize, Debug)]
struct InfoBody {
    size: Option<u64>,
    content_type: Option<String>,
    etag: Option<String>,
    metadata: Option<Value>,
    last_modified: Option<String>,
    updated_at: Option<String>,
}

impl SupabaseStore {
    /// `GET /object/info`: size, ETag, content type and the recorded SHA-256.
    pub(super) async fn info(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        let url = object_url(&self.api, "object/info", &path.bucket, path.key.as_str());
        let key = Some(path.key.as_str());
        let info: InfoBody = self
            .send_json(
                self.request(Method::GET, &url),
                "reading the object's metadata",
                &path.bucket,
                key,
            )
            .await?;
        Ok(ObjectMeta {
            key: path.key.clone(),
            size: info.size.unwrap_or(0),
            last_modified: parse_time(info.last_modified.as_deref())
                .or_else(|| parse_time(info.updated_at.as_deref())),
            etag: info.etag.as_deref().map(clean_etag),
            sha256: recorded_sha256(info.metadata.as_ref()),
            content_type: info.content_type,
            checksum: None,
        })
    }

    /// One `POST /object/{bucket}/{key}` with the SHA-256 as user metadata.
    pub(super) async fn put_standard(
        &self,
        path: &ObjectPath,
        data: Bytes,
        sha256: &str,
        options: &PutOptions,
    ) -> Result<()> {
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        let size = data.len() as u64;
        let content_type = options
            .content_type
            .as_deref()
            .unwrap_or(DEFAULT_CONTENT_TYPE);
        let mut req = self
            .request(Method::POST, &url)
            .header("x-metadata", user_metadata_header(sha256))
            .header(CONTENT_TYPE, content_type)
            .body(data);
        if options.overwrite {
            req = req.header("x-upsert", "true");
        }
        self.send(req, "uploading", &path.bucket, Some(path.key.as_str()))
            .await?;
        options.report(TransferEvent::Sent(size));
        Ok(())
    }

    /// Download the object and hash it: the SHA-256 and size of what is stored.
    pub(super) async fn hash_stored(&self, path: &ObjectPath) -> Result<(u64, String)> {
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        let key = Some(path.key.as_str());
        let resp = self
            .send(
                self.request(Method::GET, &url),
                "verifying the upload",
                &path.bucket,
                key,
            )
            .await?;
        let mut body = resp.bytes_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| transport_error(e, "verifying the upload").at(&path.bucket, key))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((size, hex::encode(hasher.finalize())))
    }

    pub(super) async fn move_object(&self, from: &ObjectPath, to: &ObjectPath) -> Result<()> {
        let body = json!({
            "bucketId": from.bucket,
            "sourceKey": from.key.as_str(),
            "destinationBucket": to.bucket,
            "destinationKey": to.key.as_str(),
        });
        let url = format!("{}/object/move", self.api);
        match self
            .send(
                self.request(Method::POST, &url).json(&body),
                "moving",
                &from.bucket,
                Some(from.key.as_str()),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(destination_error(e, to)),
        }
    }
}
