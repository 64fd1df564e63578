//! A store wrapper that makes credential failures name the profile, where its credentials
//! came from (keyring or environment) and what to do. Backends know the provider; only core
//! knows which profile, keyring and variables were involved.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use stowage_store::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, Error, ErrorKind, GetResult, Key,
    ListEntry, ListOptions, ObjectMeta, ObjectPath, PutOptions, PutResult, PutSource, Result,
    Store, UrlMethod,
};

use crate::config::{Backend, Profile};
use crate::secrets::KeyringKind;

/// Wraps a profile's store; every error passes through [`CredentialHints::explain`].
#[derive(Debug)]
pub struct CredentialHints {
    inner: Arc<dyn Store>,
    profile: String,
    /// What to set, for this provider, when credentials are missing or wrong.
    what_to_set: Option<&'static str>,
    /// The keyring the credentials came from, when they did.
    from_keyring: Option<KeyringKind>,
}

impl CredentialHints {
    /// Wrap `inner`, the store of `profile`, whose credentials came from the environment.
    pub fn new(inner: Arc<dyn Store>, profile: &Profile) -> Self {
        CredentialHints::with_keyring(inner, profile, None)
    }

    /// Wrap `inner`, the store of `profile`, whose credentials came from `from_keyring` (None:
    /// from the environment).
    pub fn with_keyring(
        inner: Arc<dyn Store>,
        profile: &Profile,
        from_keyring: Option<KeyringKind>,
    ) -> Self {
        let what_to_set = match profile.backend {
            Backend::Local(_) => None,
            Backend::S3(_) => Some(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure ~/.aws and AWS_PROFILE",
            ),
            Backend::Supabase(_) => Some("set SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY)"),
        };
        CredentialHints {
            inner,
            profile: profile.name.clone(),
            what_to_set,
            from_keyring,
        }
    }

    /// Name the profile, where its credentials came from and how to fix them in a credential
    /// error.
    pub fn explain(&self, mut e: Error) -> Error {
        let Some(what) = self.what_to_set else {
            return e;
        };
        // Accepted credentials without a permission (S3 AccessDenied) keep the store's own
        // hint when it has one: new credentials would not be the fix.
        let denied = e.message.starts_with("AccessDenied") && e.hint.is_some();
        if e.kind == ErrorKind::Unauthorized && !denied {
            let p = &self.profile;
            e.hint = Some(match self.from_keyring {
                Some(k) => format!(
                    "the credentials of profile `{p}` come from {}: store the right ones with \
                     `stowage login --profile {p}` (the keyring comes before the environment)",
                    k.describe()
                ),
                None => format!(
                    "check the credentials of profile `{p}`: run `stowage login --profile {p}` \
                     to keep them in the keyring, or {what}"
                ),
            });
        }
        e
    }
}

#[async_trait]
impl Store for CredentialHints {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn check_key(&self, key: &Key) -> Result<()> {
        self.inner.check_key(key)
    }

    fn check_bucket(&self, name: &str) -> Result<()> {
        self.inner.check_bucket(name)
    }

    async fn create_bucket(&self, name: &str, options: &BucketOptions) -> Result<()> {
        self.inner
            .create_bucket(name, options)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        self.inner.list_buckets().await.map_err(|e| self.explain(e))
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.inner
            .delete_bucket(name)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.inner
            .put(path, source, options)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult> {
        self.inner
            .get(path, range)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        self.inner.head(path).await.map_err(|e| self.explain(e))
    }

    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
        self.inner
            .list(bucket, options)
            .map(|r| r.map_err(|e| self.explain(e)))
            .boxed()
    }

    async fn delete(&self, path: &ObjectPath) -> Result<()> {
        self.inner.delete(path).await.map_err(|e| self.explain(e))
    }

    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
        Ok(self
            .inner
            .delete_many(bucket, keys)
            .await
            .map_err(|e| self.explain(e))?
            .into_iter()
            .map(|(k, e)| (k, self.explain(e)))
            .collect())
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.inner
            .copy(from, to, overwrite)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.inner
            .rename(from, to, overwrite)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn signed_url(
        &self,
        path: &ObjectPath,
        method: UrlMethod,
        expires: Duration,
    ) -> Result<String> {
        self.inner
            .signed_url(path, method, expires)
            .await
            .map_err(|e| self.explain(e))
    }
}
