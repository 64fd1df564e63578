//! TUS resumable uploads (`/upload/resumable`) in chunks of [`TUS_CHUNK`], resumed across
//! processes through a resume record and terminated when they will not be resumed.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};

use super::metadata::tus_metadata_header;
use super::{header_str, SupabaseStore, DEFAULT_CONTENT_TYPE, PROVIDER, TUS_CHUNK};
use crate::error::{Error, ErrorKind, Result};
use crate::resume::ResumeStore;
use crate::source::PreparedFile;
use crate::{ObjectPath, PutOptions, TransferEvent};

const TUS_VERSION: &str = "1.0.0";
/// Attempts for one TUS chunk when the connection fails.
const TUS_ATTEMPTS: u32 = 3;

/// What is remembered of an interrupted TUS upload.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
struct TusRecord {
    /// The upload URL (under our API base).
    url: String,
    size: u64,
    sha256: String,
    /// Whether the upload was created with `x-upsert: true`.
    upsert: bool,
}

/// The upload id of a TUS `Location` (absolute or relative), i.e. what follows
/// `/upload/resumable/`. The upload URL is rebuilt under our own API base, so the key is
/// never sent to a host the server named (self-hosted servers behind a proxy often name an
/// internal one).
fn tus_upload_id(location: &str) -> Option<&str> {
    let (_, rest) = location.split_once("/upload/resumable/")?;
    let id = rest.split(['?', '#']).next()?.trim_end_matches('/');
    (!id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.~".contains(c)))
    .then_some(id)
}

impl SupabaseStore {
    fn tus_request(&self, method: Method, url: &str, upsert: bool) -> RequestBuilder {
        let req = self
            .request(method, url)
            .header("tus-resumable", TUS_VERSION);
        if upsert {
            req.header("x-upsert", "true")
        } else {
            req
        }
    }

    /// HEAD a TUS upload: its offset, or None when the server no longer knows it.
    async fn tus_offset(
        &self,
        url: &str,
        path: &ObjectPath,
        upsert: bool,
    ) -> Result<Option<(u64, Option<u64>)>> {
        let req = self.tus_request(Method::HEAD, url, upsert);
        match self
            .send(
                req,
                "checking the resumable upload",
                &path.bucket,
                Some(path.key.as_str()),
            )
            .await
        {
            Ok(resp) => {
                let h = resp.headers();
                let offset = header_str(h, "upload-offset").and_then(|s| s.parse().ok());
                let length = header_str(h, "upload-length").and_then(|s| s.parse().ok());
                match offset {
                    Some(o) => Ok(Some((o, length))),
                    None => Err(Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        "the resumable upload's HEAD answer has no Upload-Offset",
                    )
                    .at(&path.bucket, Some(path.key.as_str()))),
                }
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Terminate a TUS upload that will not be resumed (TUS DELETE), so its partial upload
    /// does not stay on the server. Best effort: an upload the server no longer knows is
    /// already gone, and any other failure only leaves what expiry will clean up.
    async fn tus_terminate(&self, url: &str, path: &ObjectPath, upsert: bool) {
        if !url.starts_with(&format!("{}/upload/resumable/", self.api)) {
            return;
        }
        let req = self.tus_request(Method::DELETE, url, upsert);
        match self
            .send_raw(
                req,
                "abandoning the resumable upload",
                &path.bucket,
                Some(path.key.as_str()),
            )
            .await
        {
            Ok(_) => tracing::debug!("terminated an abandoned resumable upload of {path}"),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("the abandoned resumable upload of {path} stays on the server until it expires: {e}"),
        }
    }

    /// Create a TUS upload; returns its URL under our API base.
    async fn tus_create(
        &self,
        path: &ObjectPath,
        file: &PreparedFile,
        options: &PutOptions,
    ) -> Result<String> {
        let key = Some(path.key.as_str());
        let req = self
            .tus_request(
                Method::POST,
                &format!("{}/upload/resumable", self.api),
                options.overwrite,
            )
            .header("upload-length", file.size.to_string())
            .header(
                "upload-metadata",
                tus_metadata_header(
                    &path.bucket,
                    path.key.as_str(),
                    // Always named: without one, TUS would accept what a standard upload of
                    // the same file is refused (a bucket's allowed_mime_types).
                    Some(
                        options
                            .content_type
                            .as_deref()
                            .unwrap_or(DEFAULT_CONTENT_TYPE),
                    ),
                    &file.sha256,
                ),
            );
        let resp = self
            .send(req, "starting the resumable upload", &path.bucket, key)
            .await?;
        let location = header_str(resp.headers(), "location").unwrap_or("");
        let id = tus_upload_id(location).ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                PROVIDER,
                "the server did not say where to send the resumable upload (no usable Location header)",
            )
            .at(&path.bucket, key)
            .hint("check that the profile's url points at Supabase Storage")
        })?;
        Ok(format!("{}/upload/resumable/{id}", self.api))
    }

    /// The resume record of a file going to `path`, when resuming is possible. One record
    /// per destination, whichever file: the record holds the size and SHA-256 it is good for,
    /// so the next upload to the same place finds an upload left by other content (the file
    /// changed) and terminates it instead of leaving it on the server.
    pub(super) fn record_id(&self, file: &PreparedFile, path: &ObjectPath) -> Option<String> {
        self.resume.as_ref()?;
        file.identity.as_ref()?;
        let destination = format!("supabase:{}/{}/{}", self.api, path.bucket, path.key);
        Some(ResumeStore::id("destination", &destination))
    }

    /// A TUS upload, resumed when an earlier attempt left a record. Returns the offset it
    /// resumed from.
    pub(super) async fn put_tus(
        &self,
        path: &ObjectPath,
        file: &PreparedFile,
        options: &PutOptions,
    ) -> Result<u64> {
        let key = Some(path.key.as_str());
        let upsert = options.overwrite;
        let record_id = self.record_id(file, path);
        let resume = self.resume.as_ref();
        let mut url = None;
        let mut offset = 0;
        if let (Some(store), Some(id)) = (resume, &record_id) {
            if let Some(rec) = store.load::<TusRecord>(id) {
                let usable = rec.size == file.size
                    && rec.sha256 == file.sha256
                    // An upload created to replace may only go on if replacing is still
                    // asked for; one created without may always go on.
                    && (upsert || !rec.upsert)
                    && rec
                        .url
                        .starts_with(&format!("{}/upload/resumable/", self.api));
                if usable {
                    match self.tus_offset(&rec.url, path, upsert).await? {
                        Some((o, len)) if o <= file.size && len.is_none_or(|l| l == file.size) => {
                            url = Some(rec.url);
                            offset = o;
                        }
                        Some(_) => {
                            self.tus_terminate(&rec.url, path, rec.upsert).await;
                            store.remove(id);
                        }
                        None => store.remove(id),
                    }
                } else {
                    // Other content, or replacing no longer asked for: start over, and end
                    // the old upload so its partial upload does not stay on the server.
                    self.tus_terminate(&rec.url, path, rec.upsert).await;
                    store.remove(id);
                }
            }
        }
        let resumed_from = offset;
        let url = match url {
            Some(u) => {
                if offset > 0 {
                    options.report(TransferEvent::Resumed(offset));
                }
                u
            }
            None => {
                let u = self.tus_create(path, file, options).await?;
                if let (Some(store), Some(id)) = (resume, &record_id) {
                    let rec = TusRecord {
                        url: u.clone(),
                        size: file.size,
                        sha256: file.sha256.clone(),
                        upsert,
                    };
                    if let Err(e) = store.save(id, &rec) {
                        tracing::warn!(
                            "cannot remember the resumable upload, it will not resume: {e}"
                        );
                    }
                }
                u
            }
        };
        let mut failures = 0;
        while offset < file.size {
            if let Err(e) = file.check_unchanged() {
                // This upload can never be finished with the file as it now is.
                self.tus_terminate(&url, path, upsert).await;
                if let (Some(store), Some(id)) = (resume, &record_id) {
                    store.remove(id);
                }
                return Err(e);
            }
            let len = TUS_CHUNK.min(file.size - offset);
            let chunk = file.read_at(offset, len as usize).await?;
            let req = self
                .tus_request(Method::PATCH, &url, upsert)
                .header("upload-offset", offset.to_string())
                .header(CONTENT_TYPE, "application/offset+octet-stream")
                .body(chunk);
            match self.send(req, "uploading a chunk", &path.bucket, key).await {
                Ok(resp) => {
                    failures = 0;
                    let new = header_str(resp.headers(), "upload-offset")
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(offset + len);
                    if new <= offset || new > file.size {
                        return Err(Error::new(
                            ErrorKind::Other,
                            PROVIDER,
                            format!(
                                "the server reported offset {new} after a chunk sent at {offset}"
                            ),
                        )
                        .at(&path.bucket, key)
                        .hint(
                            "run the command again; the upload resumes from what the server holds",
                        ));
                    }
                    options.report(TransferEvent::Sent(new - offset));
                    offset = new;
                }
                // A lost connection or an offset conflict (a chunk that arrived after all):
                // ask the server where it stands and go on from there.
                Err(e)
                    if (e.kind == ErrorKind::Unavailable || e.kind == ErrorKind::Conflict)
                        && failures + 1 < TUS_ATTEMPTS =>
                {
                    failures += 1;
                    tracing::debug!("chunk at {offset} failed, asking the server: {e}");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(failures))).await;
                    match self.tus_offset(&url, path, upsert).await? {
                        Some((o, _)) if o <= file.size => offset = o,
                        _ => return Err(e),
                    }
                }
                Err(e) => {
                    if e.kind == ErrorKind::NotFound {
                        if let (Some(store), Some(id)) = (resume, &record_id) {
                            store.remove(id);
                        }
                    }
                    return Err(e.hint(
                        "run the command again; the upload resumes from the last stored chunk",
                    ));
                }
            }
        }
        Ok(resumed_from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tus_locations_become_ids_under_our_base() {
        let loc = "http://127.0.0.1:5000/upload/resumable/ZngtcGxhaW4vdHVzL2JpZy5iaW4vZjEyZTJiMjItMmI5Zi00YThkLThiMTYtMmNjMWQ4MzBmZDMx";
        assert_eq!(
            tus_upload_id(loc),
            Some("ZngtcGxhaW4vdHVzL2JpZy5iaW4vZjEyZTJiMjItMmI5Zi00YThkLThiMTYtMmNjMWQ4MzBmZDMx")
        );
        assert_eq!(
            tus_upload_id("/storage/v1/upload/resumable/abc=?x=1"),
            Some("abc=")
        );
        assert_eq!(tus_upload_id("/upload/resumable/"), None);
        assert_eq!(tus_upload_id("/upload/resumable/../../bucket"), None);
        assert_eq!(tus_upload_id("https://elsewhere/other"), None);
    }
}
