//! Organization isolation: a store wrapper that lets a profile bound to an organization
//! address only keys under `{org}/`.
//!
//! Keys are **not** prefixed automatically: a key must already start with `{org}/`, the way
//! `stowage sync --org acme` and the policy's `org_prefix` rules write them
//! (`acme/models/x.pt`). So the same key names the same object whether or not the profile is
//! bound, and a catalog entry, a signed URL or a listing shows the real key.
//!
//! Every key and prefix passed in is checked before the inner store sees it (no request is
//! sent for a refused key): keys outside `{org}/` are [`ErrorKind::Unauthorized`]; keys that
//! are ambiguous (percent-encoded separators, look-alikes of `/` and `.`, NFKC tricks; see
//! [`key::check_unambiguous`]) are [`ErrorKind::InvalidKey`]. `..`, absolute keys, `\`, NUL and
//! control characters never get this far: [`Key::parse`] refuses them. Listings are filtered
//! too, so nothing outside the organization is ever shown. Bucket operations pass through:
//! organizations share buckets, and only an empty bucket can be deleted.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::key::{self, Key};
use crate::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, Error, ErrorKind, GetResult, ListEntry,
    ListOptions, ObjectMeta, ObjectPath, PutOptions, PutResult, PutSource, Result, Store,
    UrlMethod,
};

/// Check an organization name: one plain key segment (no `/`, no `.` or `..`, nothing
/// [`key::check_unambiguous`] refuses). Returns it in NFC.
pub fn validate_org(raw: &str) -> Result<String> {
    let bad = |why: String| {
        Error::new(ErrorKind::InvalidKey, "stowage", why)
            .hint("use a plain organization name like `acme` or `team-vision`")
    };
    if raw.contains('/') {
        return Err(bad(format!(
            "the organization `{}` must be one folder name, without `/`",
            raw.escape_debug()
        )));
    }
    let parsed = Key::parse(raw).map_err(|e| {
        bad(format!(
            "the organization `{}` is not a valid key segment: {}",
            raw.escape_debug(),
            e.message
        ))
    })?;
    key::check_unambiguous(parsed.as_str()).map_err(|e| {
        bad(format!(
            "the organization `{}` is ambiguous: {}",
            raw.escape_debug(),
            e.message
        ))
    })?;
    Ok(parsed.as_str().to_string())
}

/// Confines a store to the keys under `{org}/`.
#[derive(Debug)]
pub struct OrgScoped {
    inner: Arc<dyn Store>,
    org: String,
    /// `{org}/`.
    prefix: String,
}

/// What a requested list prefix means inside the organization.
enum Scope {
    /// List with this prefix (inside `{org}/`).
    Inside(String),
    /// The prefix is shorter than `{org}/` and a delimiter was asked: the only entry can be
    /// the organization's own folder.
    OrgFolder,
}

impl OrgScoped {
    /// Confine `inner` to `{org}/`; `org` is checked with [`validate_org`].
    pub fn new(inner: Arc<dyn Store>, org: &str) -> Result<OrgScoped> {
        let org = validate_org(org)?;
        Ok(OrgScoped {
            inner,
            prefix: format!("{org}/"),
            org,
        })
    }

    /// `inner` confined to `org` when there is one, else `inner` itself.
    pub fn scope(inner: Arc<dyn Store>, org: Option<&str>) -> Result<Arc<dyn Store>> {
        Ok(match org {
            Some(org) => Arc::new(OrgScoped::new(inner, org)?),
            None => inner,
        })
    }

    /// The organization.
    pub fn org(&self) -> &str {
        &self.org
    }

    fn outside(&self, what: &str, shown: &str) -> Error {
        Error::new(
            ErrorKind::Unauthorized,
            self.inner.provider(),
            format!(
                "this profile is bound to organization `{}`; the {what} `{shown}` is outside `{}`",
                self.org, self.prefix
            ),
        )
        .hint(format!(
            "use a key under `{}` (for example `{}{}`), or a profile without `org`",
            self.prefix,
            self.prefix,
            shown.trim_start_matches('/')
        ))
    }

    /// Check one key: unambiguous, and under `{org}/`.
    fn check(&self, key: &Key) -> Result<()> {
        key::check_unambiguous(key.as_str()).map_err(|mut e| {
            e.provider = self.inner.provider().to_string();
            e
        })?;
        if !key.as_str().starts_with(&self.prefix) {
            return Err(self.outside("key", key.as_str()).key(key.as_str()));
        }
        Ok(())
    }

    fn check_path(&self, path: &ObjectPath) -> Result<()> {
        self.check(&path.key).map_err(|e| e.bucket(&path.bucket))
    }

    fn scope_prefix(&self, raw: &str, delimiter: bool) -> Result<Scope> {
        let named = |mut e: Error| {
            e.provider = self.inner.provider().to_string();
            e
        };
        let prefix = key::parse_prefix(raw).map_err(named)?;
        key::check_unambiguous(&prefix).map_err(named)?;
        if prefix.starts_with(&self.prefix) {
            Ok(Scope::Inside(prefix))
        } else if self.prefix.starts_with(&prefix) {
            // "", "ac", "acme": everything visible lies under `{org}/`.
            Ok(if delimiter {
                Scope::OrgFolder
            } else {
                Scope::Inside(self.prefix.clone())
            })
        } else {
            Err(self.outside("prefix", &prefix))
        }
    }

    fn inside(&self, entry: &ListEntry) -> bool {
        entry.name().starts_with(&self.prefix)
    }
}

#[async_trait]
impl Store for OrgScoped {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn check_key(&self, key: &Key) -> Result<()> {
        self.check(key)?;
        self.inner.check_key(key)
    }

    fn check_bucket(&self, name: &str) -> Result<()> {
        self.inner.check_bucket(name)
    }

    async fn create_bucket(&self, name: &str, options: &BucketOptions) -> Result<()> {
        self.inner.create_bucket(name, options).await
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        self.inner.list_buckets().await
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.inner.delete_bucket(name).await
    }

    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.check_path(path)?;
        self.inner.put(path, source, options).await
    }

    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult> {
        self.check_path(path)?;
        self.inner.get(path, range).await
    }

    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        self.check_path(path)?;
        self.inner.head(path).await
    }

    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
        let bucket_name = bucket.to_string();
        match self.scope_prefix(&options.prefix, options.delimiter) {
            Err(e) => stream::once(async move { Err(e.bucket(bucket_name)) }).boxed(),
            Ok(Scope::Inside(prefix)) => self
                .inner
                .list(bucket, ListOptions { prefix, ..options })
                .filter(move |r| {
                    let keep = match r {
                        Ok(entry) => self.inside(entry),
                        Err(_) => true,
                    };
                    async move { keep }
                })
                .boxed(),
            Ok(Scope::OrgFolder) => {
                let probe = ListOptions {
                    prefix: self.prefix.clone(),
                    delimiter: false,
                    page_size: Some(1),
                };
                let folder = self.prefix.clone();
                let first = self.inner.list(bucket, probe).into_future();
                stream::once(async move {
                    match first.await.0 {
                        None => None,
                        Some(Err(e)) => Some(Err(e)),
                        Some(Ok(_)) => Some(Ok(ListEntry::Prefix(folder))),
                    }
                })
                .filter_map(|r| async move { r })
                .boxed()
            }
        }
    }

    async fn delete(&self, path: &ObjectPath) -> Result<()> {
        self.check_path(path)?;
        self.inner.delete(path).await
    }

    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
        for key in keys {
            self.check(key).map_err(|e| e.bucket(bucket))?;
        }
        self.inner.delete_many(bucket, keys).await
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.check_path(from)?;
        self.check_path(to)?;
        self.inner.copy(from, to, overwrite).await
    }

    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.check_path(from)?;
        self.check_path(to)?;
        self.inner.rename(from, to, overwrite).await
    }

    async fn signed_url(
        &self,
        path: &ObjectPath,
        method: UrlMethod,
        expires: Duration,
    ) -> Result<String> {
        self.check_path(path)?;
        self.inner.signed_url(path, method, expires).await
    }
}

/// Escapes every backend's tests try against a store confined to organization `acme`: keys
/// that [`Key::parse`] accepts but [`OrgScoped`] must refuse, each with the error kind it gives.
pub const ESCAPES: &[(&str, ErrorKind)] = &[
    ("other/secret.bin", ErrorKind::Unauthorized),
    ("acmeevil/secret.bin", ErrorKind::Unauthorized),
    ("ACME/secret.bin", ErrorKind::Unauthorized),
    ("acme", ErrorKind::Unauthorized),
    ("x/acme/secret.bin", ErrorKind::Unauthorized),
    ("\u{FF41}cme/secret.bin", ErrorKind::Unauthorized),
    ("acme/%2e%2e/other/secret.bin", ErrorKind::InvalidKey),
    ("acme/..%2Fother/secret.bin", ErrorKind::InvalidKey),
    ("acme/%2E%2E%2Fother%2Fsecret.bin", ErrorKind::InvalidKey),
    ("acme/%5C..%5Cother", ErrorKind::InvalidKey),
    ("acme/%252F..%252Fother", ErrorKind::InvalidKey),
    ("acme/x%00y", ErrorKind::InvalidKey),
    ("acme/\u{2215}..\u{2215}other", ErrorKind::InvalidKey),
    ("acme/..\u{2044}other", ErrorKind::InvalidKey),
    ("acme/..\u{FF0F}other", ErrorKind::InvalidKey),
    ("acme/..\u{29F8}other", ErrorKind::InvalidKey),
    ("acme/..\u{2571}other", ErrorKind::InvalidKey),
    ("acme/..\u{FF3C}other", ErrorKind::InvalidKey),
    ("acme/..\u{FE68}other", ErrorKind::InvalidKey),
    ("acme/\u{FF0E}\u{FF0E}/other", ErrorKind::InvalidKey),
    ("acme/\u{2025}/other", ErrorKind::InvalidKey),
    ("acme/\u{FE52}\u{FE52}/other", ErrorKind::InvalidKey),
    ("acme/x\u{0338}y", ErrorKind::InvalidKey),
    ("acme/\u{FF05}2F..", ErrorKind::InvalidKey),
    ("acme/\u{FF05}\u{FF12}\u{FF26}x", ErrorKind::InvalidKey),
];

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::TryStreamExt;

    use super::*;
    use crate::local::LocalStore;

    /// Delegates to a real local store and records every call that reaches it.
    #[derive(Debug)]
    struct Recording {
        inner: LocalStore,
        calls: Mutex<Vec<String>>,
    }

    impl Recording {
        fn note(&self, call: &str) {
            self.calls.lock().unwrap().push(call.to_string());
        }
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.calls.lock().unwrap())
        }
    }

    #[async_trait]
    impl Store for Recording {
        fn provider(&self) -> &str {
            "local"
        }
        fn check_key(&self, key: &Key) -> Result<()> {
            self.note(&format!("check_key {key}"));
            Ok(())
        }
        async fn create_bucket(&self, name: &str, o: &BucketOptions) -> Result<()> {
            self.note("create_bucket");
            self.inner.create_bucket(name, o).await
        }
        async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
            self.note("list_buckets");
            self.inner.list_buckets().await
        }
        async fn delete_bucket(&self, name: &str) -> Result<()> {
            self.note("delete_bucket");
            self.inner.delete_bucket(name).await
        }
        async fn put(&self, p: &ObjectPath, s: PutSource, o: &PutOptions) -> Result<PutResult> {
            self.note(&format!("put {p}"));
            self.inner.put(p, s, o).await
        }
        async fn get(&self, p: &ObjectPath, r: Option<ByteRange>) -> Result<GetResult> {
            self.note(&format!("get {p}"));
            self.inner.get(p, r).await
        }
        async fn head(&self, p: &ObjectPath) -> Result<ObjectMeta> {
            self.note(&format!("head {p}"));
            self.inner.head(p).await
        }
        fn list(&self, bucket: &str, o: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
            self.note(&format!("list {bucket} {:?}", o.prefix));
            self.inner.list(bucket, o)
        }
        async fn delete(&self, p: &ObjectPath) -> Result<()> {
            self.note(&format!("delete {p}"));
            self.inner.delete(p).await
        }
        async fn delete_many(&self, b: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
            self.note(&format!("delete_many {b} {keys:?}"));
            self.inner.delete_many(b, keys).await
        }
        async fn copy(&self, f: &ObjectPath, t: &ObjectPath, o: bool) -> Result<()> {
            self.note(&format!("copy {f} {t}"));
            self.inner.copy(f, t, o).await
        }
        async fn rename(&self, f: &ObjectPath, t: &ObjectPath, o: bool) -> Result<()> {
            self.note(&format!("rename {f} {t}"));
            self.inner.rename(f, t, o).await
        }
        async fn signed_url(&self, p: &ObjectPath, m: UrlMethod, e: Duration) -> Result<String> {
            self.note(&format!("signed_url {p}"));
            self.inner.signed_url(p, m, e).await
        }
    }

    /// Raw keys that never become a `Key`, so no store call can even be written with them.
    const UNPARSABLE: &[&str] = &[
        "acme/../other/secret.bin",
        "/acme/secret.bin",
        "/other/secret.bin",
        "acme/./x",
        "..",
        "acme\\..\\other",
        "acme/x\0y",
        "acme//x",
        "acme/\u{202E}nib.exe",
    ];

    async fn fixture() -> (tempfile::TempDir, Arc<Recording>, OrgScoped) {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recording {
            inner: LocalStore::new(dir.path()).unwrap(),
            calls: Mutex::new(Vec::new()),
        });
        rec.create_bucket("shared", &BucketOptions::default())
            .await
            .unwrap();
        for key in [
            "acme/models/m.pt",
            "other/secret.bin",
            "acmeevil/secret.bin",
        ] {
            rec.put(
                &ObjectPath::new("shared", key).unwrap(),
                PutSource::Bytes(key.as_bytes().to_vec().into()),
                &PutOptions::default(),
            )
            .await
            .unwrap();
        }
        let scoped = OrgScoped::new(rec.clone() as Arc<dyn Store>, "acme").unwrap();
        rec.take();
        (dir, rec, scoped)
    }

    fn p(key: &str) -> ObjectPath {
        ObjectPath::new("shared", key).unwrap()
    }

    /// Every operation with `bad` on one side; each must fail with `kind`.
    async fn every_call(s: &OrgScoped, bad: &str, kind: ErrorKind) -> Vec<(String, Error)> {
        let (b, ok) = (p(bad), p("acme/models/m.pt"));
        let day = Duration::from_secs(3600);
        let mut errors = vec![
            ("check_key".into(), s.check_key(&b.key).unwrap_err()),
            (
                "put".into(),
                s.put(&b, PutSource::Bytes("x".into()), &PutOptions::default())
                    .await
                    .unwrap_err(),
            ),
            ("get".into(), s.get(&b, None).await.unwrap_err()),
            ("head".into(), s.head(&b).await.unwrap_err()),
            ("delete".into(), s.delete(&b).await.unwrap_err()),
            (
                "delete_many".into(),
                s.delete_many("shared", &[ok.key.clone(), b.key.clone()])
                    .await
                    .unwrap_err(),
            ),
            ("copy from".into(), s.copy(&b, &ok, true).await.unwrap_err()),
            ("copy to".into(), s.copy(&ok, &b, true).await.unwrap_err()),
            (
                "rename from".into(),
                s.rename(&b, &ok, true).await.unwrap_err(),
            ),
            (
                "rename to".into(),
                s.rename(&ok, &b, true).await.unwrap_err(),
            ),
            (
                "signed_url".into(),
                s.signed_url(&b, UrlMethod::Get, day).await.unwrap_err(),
            ),
        ];
        // `acme` as a list prefix is not an escape: it lists `acme/`.
        let listable = "acme/".starts_with(bad);
        for delimiter in [false, true].into_iter().filter(|_| !listable) {
            let listed: Result<Vec<ListEntry>> = s
                .list(
                    "shared",
                    ListOptions {
                        prefix: bad.to_string(),
                        delimiter,
                        page_size: None,
                    },
                )
                .try_collect()
                .await;
            errors.push((format!("list {delimiter}"), listed.unwrap_err()));
        }
        for (call, e) in &errors {
            assert_eq!(e.kind, kind, "{call} {bad:?}: {e}");
        }
        errors
    }

    #[tokio::test]
    async fn every_escape_is_refused_before_the_inner_store_is_called() {
        let (_dir, rec, scoped) = fixture().await;
        for (bad, kind) in ESCAPES {
            let errors = every_call(&scoped, bad, *kind).await;
            assert_eq!(
                rec.take(),
                Vec::<String>::new(),
                "{bad:?} reached the store"
            );
            for (call, e) in errors {
                let text = e.to_string();
                assert!(text.contains("local"), "{call}: names the provider: {text}");
                assert!(e.hint.is_some(), "{call}: says what to do: {text}");
                assert!(!text.contains('\0'), "{call}: {text:?}");
                if *kind == ErrorKind::Unauthorized {
                    assert!(text.contains("`acme`"), "{call}: names the org: {text}");
                }
            }
        }
        // The other organizations' objects are untouched.
        for key in ["other/secret.bin", "acmeevil/secret.bin"] {
            let got = rec.inner.get(&p(key), None).await.unwrap().bytes().await;
            assert_eq!(got.unwrap(), key.as_bytes());
        }
    }

    #[test]
    fn unparsable_keys_never_become_keys() {
        for raw in UNPARSABLE {
            let e = ObjectPath::new("shared", raw).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{raw:?}");
        }
    }

    #[tokio::test]
    async fn keys_inside_the_org_work_and_reach_the_store_once() {
        let (_dir, rec, scoped) = fixture().await;
        let key = p("acme/results/r.json");
        scoped
            .put(&key, PutSource::Bytes("{}".into()), &PutOptions::default())
            .await
            .unwrap();
        assert_eq!(rec.take(), ["put shared/acme/results/r.json"]);
        let body = scoped.get(&key, None).await.unwrap().bytes().await.unwrap();
        assert_eq!(body, "{}");
        scoped
            .copy(&key, &p("acme/results/r2.json"), false)
            .await
            .unwrap();
        scoped
            .rename(
                &p("acme/results/r2.json"),
                &p("acme/results/r3.json"),
                false,
            )
            .await
            .unwrap();
        assert_eq!(
            scoped.head(&p("acme/results/r3.json")).await.unwrap().size,
            2
        );
        scoped.delete(&p("acme/results/r3.json")).await.unwrap();
        // Keys made of unicode and percent signs that decode to nothing special are fine.
        for ok in [
            "acme/100%.txt",
            "acme/a%20b",
            "acme/こんにちは。.json",
            "acme/caf\u{e9}",
        ] {
            scoped.check_key(&p(ok).key).unwrap();
        }
    }

    #[tokio::test]
    async fn listings_never_show_other_orgs() {
        let (_dir, rec, scoped) = fixture().await;
        let list = |prefix: &str, delimiter: bool| {
            scoped
                .list(
                    "shared",
                    ListOptions {
                        prefix: prefix.into(),
                        delimiter,
                        page_size: None,
                    },
                )
                .map_ok(|e| e.name().to_string())
                .try_collect::<Vec<_>>()
        };
        for prefix in ["", "a", "acme"] {
            assert_eq!(
                list(prefix, false).await.unwrap(),
                ["acme/models/m.pt"],
                "{prefix:?}"
            );
            assert_eq!(list(prefix, true).await.unwrap(), ["acme/"], "{prefix:?}");
        }
        assert_eq!(list("acme/", true).await.unwrap(), ["acme/models/"]);
        assert_eq!(
            list("acme/models/", false).await.unwrap(),
            ["acme/models/m.pt"]
        );
        // Every listing went to the store under `acme/`.
        for call in rec.take() {
            assert!(call.starts_with("list shared \"acme/"), "{call}");
        }
        // An organization with nothing stored yet lists nothing, not its folder.
        let empty = OrgScoped::new(rec.clone() as Arc<dyn Store>, "newco").unwrap();
        let listed: Vec<ListEntry> = empty
            .list(
                "shared",
                ListOptions {
                    delimiter: true,
                    ..Default::default()
                },
            )
            .try_collect()
            .await
            .unwrap();
        assert!(listed.is_empty(), "{listed:?}");
    }

    #[tokio::test]
    async fn a_decomposed_org_name_is_the_same_org() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()).unwrap());
        let scoped = OrgScoped::new(inner, "cafe\u{301}").unwrap();
        assert_eq!(scoped.org(), "caf\u{e9}");
        scoped.check_key(&p("cafe\u{301}/x").key).unwrap();
        scoped.check_key(&p("caf\u{e9}/x").key).unwrap();
        assert_eq!(
            scoped.check_key(&p("cafe/x").key).unwrap_err().kind,
            ErrorKind::Unauthorized
        );
    }

    #[test]
    fn org_names_must_be_one_plain_segment() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/acme",
            "acme/",
            "a\\b",
            "a\0b",
            "a%2Fb",
            "a\u{2215}b",
            "\u{FF0E}\u{FF0E}",
            "acme\u{202E}",
        ] {
            let e = validate_org(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{bad:?}");
            assert!(e.hint.as_deref().unwrap().contains("acme"), "{bad:?}");
        }
        for good in ["acme", "team-vision", "Org_1", "ünïcode"] {
            assert_eq!(validate_org(good).unwrap(), good);
        }
    }
}
