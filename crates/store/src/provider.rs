//! Each provider described in one place: its settings, its secrets and the environment
//! variables that can carry them, the shape of its URLs, its key rules and the price list it
//! follows. Config, credentials, the keyring, cost, migrate and the shells read these
//! descriptions, so adding a backend means its module, its description here, and its tests.

/// A setting of a profile in `config.toml` (never a secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The name in `config.toml` (`endpoint`); the CLI flag is `--` plus it with `-`.
    pub name: &'static str,
    /// What it is, for help and forms.
    pub help: &'static str,
}

/// A secret a profile keeps in the OS keyring (or takes from the environment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretField {
    /// Its name in keyring entries and JSON: `secret_access_key`.
    pub name: &'static str,
    /// Words for prompts and messages: `secret access key`.
    pub label: &'static str,
    /// The environment variable that supplies it when the keyring has none.
    pub env_var: &'static str,
    /// Whether its value must never be shown (an access key id may be).
    pub secret: bool,
    /// Whether `login` asks for it by default (an alternative, like Supabase's anon key,
    /// is asked for only on request).
    pub asked: bool,
}

/// What Stowage knows of one kind of provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The kind in `config.toml`: `local`, `s3`, `supabase`.
    pub kind: &'static str,
    /// A name for people.
    pub title: &'static str,
    /// Settings a profile of this kind may have (besides `kind` and `org`).
    pub settings: &'static [Setting],
    /// Secrets it keeps in the keyring, in the order `login` asks for them.
    pub secrets: &'static [SecretField],
    /// Other environment variables it reads.
    pub env: &'static [&'static str],
    /// What its objects' URLs look like.
    pub url_shape: &'static str,
    /// The keys and bucket names it accepts, in words (the rules are in [`crate::key`]).
    pub key_rules: &'static str,
    /// The price list `stowage cost` applies: `local` (free), `s3` or `supabase`.
    pub price_kind: &'static str,
    /// Whether its objects live on one machine: a teammate's object at the same bucket and
    /// key is another object (the team catalog shares only the others).
    pub machine_local: bool,
}

const MAX_OBJECT_SIZE: Setting = Setting {
    name: "max_object_size",
    help: "refuse uploads above this many bytes",
};

/// The built-in local folder store.
pub const LOCAL: Provider = Provider {
    kind: "local",
    title: "a local folder",
    settings: &[Setting {
        name: "root",
        help: "the folder holding one directory per bucket",
    }],
    secrets: &[],
    env: &[],
    url_shape: "file:///ROOT/BUCKET/KEY (no signed URLs)",
    key_rules: "any UTF-8 key without `..` segments; bucket names 3-63 lowercase letters, \
                digits, `-` and `.`",
    price_kind: "local",
    machine_local: true,
};

/// S3 and S3-compatible endpoints (SeaweedFS, MinIO, R2…).
pub const S3: Provider = Provider {
    kind: "s3",
    title: "S3 or an S3-compatible endpoint",
    settings: &[
        Setting {
            name: "endpoint",
            help: "the endpoint URL (SeaweedFS, MinIO, R2…); omit for AWS",
        },
        Setting {
            name: "region",
            help: "the region",
        },
        Setting {
            name: "path_style",
            help: "path-style addressing, which most self-hosted servers need",
        },
        Setting {
            name: "aws_profile",
            help: "a profile of ~/.aws/config to take credentials from",
        },
        MAX_OBJECT_SIZE,
    ],
    secrets: &[
        SecretField {
            name: "access_key_id",
            label: "access key id",
            env_var: "AWS_ACCESS_KEY_ID",
            secret: false,
            asked: true,
        },
        SecretField {
            name: "secret_access_key",
            label: "secret access key",
            env_var: "AWS_SECRET_ACCESS_KEY",
            secret: true,
            asked: true,
        },
    ],
    env: &[
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ],
    url_shape: "https://BUCKET.s3.REGION.amazonaws.com/KEY, or ENDPOINT/BUCKET/KEY path-style",
    key_rules: "keys up to 1,024 bytes of UTF-8; bucket names 3-63 lowercase letters, digits, \
                `-` and `.`",
    price_kind: "s3",
    machine_local: false,
};

/// Supabase Storage.
pub const SUPABASE: Provider = Provider {
    kind: "supabase",
    title: "Supabase Storage",
    settings: &[
        Setting {
            name: "url",
            help: "the project URL, e.g. https://abcd.supabase.co",
        },
        MAX_OBJECT_SIZE,
    ],
    secrets: &[
        SecretField {
            name: "service_role_key",
            label: "service-role key",
            env_var: "SUPABASE_SERVICE_ROLE_KEY",
            secret: true,
            asked: true,
        },
        SecretField {
            name: "anon_key",
            label: "anon key",
            env_var: "SUPABASE_ANON_KEY",
            secret: true,
            asked: false,
        },
    ],
    env: &["SUPABASE_URL"],
    url_shape: "URL/storage/v1/object/BUCKET/KEY (signed: URL/storage/v1/object/sign/…)",
    key_rules: "keys of letters, digits and `!-_.*'()&$@=;:+,? /` (no other Unicode); bucket \
                names also take capitals and `_`",
    price_kind: "supabase",
    machine_local: false,
};

/// Every provider, in the order shells list them.
pub const PROVIDERS: &[Provider] = &[LOCAL, S3, SUPABASE];

/// The provider of a kind (`s3`), if there is one.
pub fn provider(kind: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.kind == kind)
}

/// The kinds, for messages: `local`, `s3` or `supabase`.
pub fn kinds_in_words() -> String {
    let names: Vec<String> = PROVIDERS.iter().map(|p| format!("`{}`", p.kind)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The provider a store's label names (`s3 (127.0.0.1:8333)`, `supabase`, `local`): the
/// label starts with its kind.
pub fn of_label(label: &str) -> Option<&'static Provider> {
    let l = label.trim_start();
    PROVIDERS
        .iter()
        .find(|p| l.len() >= p.kind.len() && l[..p.kind.len()].eq_ignore_ascii_case(p.kind))
}

/// The label a store of `kind` reached at `endpoint` gives itself ([`crate::Store::provider`],
/// which the catalog records as a copy's provider): `s3 (host:port)` for an S3 endpoint, the
/// kind alone otherwise (AWS, a Supabase project, a local folder).
pub fn label(kind: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(e) if kind == "s3" => format!(
            "{}{})",
            endpoint_label_prefix(kind),
            url::Url::parse(e)
                .ok()
                .and_then(|u| u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                }))
                .unwrap_or_else(|| e.to_string())
        ),
        _ => kind.to_string(),
    }
}

/// How every label of `kind` reached at an endpoint begins (`s3 (`): a kind's labels are
/// the kind itself and those.
pub fn endpoint_label_prefix(kind: &str) -> String {
    format!("{kind} (")
}

/// Every secret field of every provider.
pub fn secret_fields() -> impl Iterator<Item = &'static SecretField> {
    PROVIDERS.iter().flat_map(|p| p.secrets.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_labels_and_fields_are_found() {
        assert_eq!(provider("s3").unwrap().price_kind, "s3");
        assert!(provider("ftp").is_none());
        assert_eq!(kinds_in_words(), "`local`, `s3` or `supabase`");
        assert_eq!(
            label("s3", Some("http://127.0.0.1:8333/")),
            "s3 (127.0.0.1:8333)"
        );
        assert_eq!(
            label("s3", Some("https://s3.example.com")),
            "s3 (s3.example.com)"
        );
        assert_eq!(label("s3", None), "s3");
        assert_eq!(label("supabase", Some("https://x.supabase.co")), "supabase");
        assert_eq!(of_label("s3 (127.0.0.1:8333)").unwrap().kind, "s3");
        assert_eq!(of_label("Supabase").unwrap().kind, "supabase");
        assert!(of_label("ftp").is_none());
        let names: Vec<&str> = secret_fields().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "access_key_id",
                "secret_access_key",
                "service_role_key",
                "anon_key"
            ]
        );
        // Names are unique across providers: a keyring entry names one field.
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
