//! The decision matrix (M3): which artifacts leave the machine, where they go and whether they
//! are compressed. Rules live in `policy.toml` in the config folder, are evaluated in order and
//! the first match wins; with no file the built-in defaults from the ML storage strategy apply.
//!
//! ```toml
//! org = "acme"                  # optional: keys become `acme/models/…`
//! include_defaults = true       # the built-in rules run after these (the default)
//! compress_min_size = "64KB"    # automatic compression starts here
//!
//! [[rule]]
//! name = "big-checkpoints"
//! patterns = ["checkpoints/**", "*.ckpt"]
//! kinds = ["model", "other"]    # optional: only files detected as these kinds
//! kind = "model"                # optional: what the file is recorded as
//! min_size = "5MiB"             # inclusive
//! max_size = "2GB"              # exclusive
//! destination = "primary+secondary"
//! folder = "models/checkpoints/"
//! org_prefix = true             # prepend the org when there is one (the default)
//! compress = false              # omit for automatic
//! ```
//!
//! Patterns without `/` match the file name; patterns with `/` match the path relative to the
//! watched folder at any depth (`cache/**` also matches `a/cache/x`), or from its root when
//! they start with `/`. Sizes take bytes or `KB`/`MB`/`GB` (decimal, as the strategy uses
//! them) and `KiB`/`MiB`/`GiB` (binary).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::units::{human_size, parse_size};

/// The policy file's name inside the config folder.
pub const POLICY_FILE: &str = "policy.toml";

/// Automatic compression starts at this size (DESIGN.md: JSON/CSV/text over 64 KB).
pub const DEFAULT_COMPRESS_MIN_SIZE: u64 = 64_000;

/// What an artifact is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Training data.
    Dataset,
    /// A trained model or a model snapshot.
    Model,
    /// Training results and metrics.
    Results,
    /// A catalog of repositories or artifacts.
    Catalog,
    /// An export, such as an audit.
    Export,
    /// A log file.
    Log,
    /// A cache file.
    Cache,
    /// A temporary or partial file.
    Temp,
    /// Anything else.
    Other,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 9] = [
        Kind::Dataset,
        Kind::Model,
        Kind::Results,
        Kind::Catalog,
        Kind::Export,
        Kind::Log,
        Kind::Cache,
        Kind::Temp,
        Kind::Other,
    ];

    /// The lowercase name used in policy files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dataset => "dataset",
            Kind::Model => "model",
            Kind::Results => "results",
            Kind::Catalog => "catalog",
            Kind::Export => "export",
            Kind::Log => "log",
            Kind::Cache => "cache",
            Kind::Temp => "temp",
            Kind::Other => "other",
        }
    }

    /// The kind a path looks like by name alone, from the built-in patterns (never the rules).
    pub fn detect(rel_path: &str) -> Kind {
        detect(&Target::new(rel_path)).0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub enum Destination {
    /// It must never leave the machine (logs, caches, temporary files).
    #[serde(rename = "never")]
    Never,
    /// It stays in the local folder for now.
    #[serde(rename = "local")]
    Local,
    /// The primary store.
    #[serde(rename = "primary")]
    Primary,
    /// The primary and the secondary store.
    #[serde(rename = "primary+secondary", alias = "primary_and_secondary")]
    PrimaryAndSecondary,
}

impl Destination {
    /// The name used in policy files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Never => "never",
            Destination::Local => "local",
            Destination::Primary => "primary",
            Destination::PrimaryAndSecondary => "primary+secondary",
        }
    }

    /// Whether the file is uploaded at all.
    pub fn uploads(self) -> bool {
        matches!(
            self,
            Destination::Primary | Destination::PrimaryAndSecondary
        )
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the policy decided for one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Decision {
    /// The rule that matched.
    pub rule: String,
    /// What the file is.
    pub kind: Kind,
    /// Where it goes.
    pub destination: Destination,
    /// `{org}/{folder}{file name}` when uploaded; the compression step appends `.gz`.
    pub key: Option<String>,
    /// Whether to gzip it on the way up.
    pub compress: bool,
    /// Its size in bytes.
    pub size: u64,
    /// Why an uploading rule produced no key (the name cannot be a valid key); the caller
    /// must refuse the file with this message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_error: Option<String>,
}

/// A decision and how it was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The decision.
    pub decision: Decision,
    /// The rules tried before the match, each with why it did not match.
    pub skipped: Vec<(String, String)>,
    /// Why the matching rule matched.
    pub matched: String,
    /// The kind detected from the name alone, and the pattern that said so.
    pub detected: (Kind, Option<String>),
}

impl Serialize for Explanation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Skip<'a> {
            rule: &'a str,
            why: &'a str,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            decision: &'a Decision,
            matched: &'a str,
            detected_kind: Kind,
            detected_by: Option<&'a str>,
            skipped: Vec<Skip<'a>>,
        }
        Out {
            decision: &self.decision,
            matched: &self.matched,
            detected_kind: self.detected.0,
            detected_by: self.detected.1.as_deref(),
            skipped: self
                .skipped
                .iter()
                .map(|(rule, why)| Skip { rule, why })
                .collect(),
        }
        .serialize(s)
    }
}

/// The TypeScript shape of [`Explanation`], as it serialises.
#[derive(ts_rs::TS)]
#[ts(rename = "Explanation")]
#[allow(dead_code)]
struct ExplanationShape {
    #[ts(flatten)]
    decision: Decision,
    matched: String,
    detected_kind: Kind,
    detected_by: Option<String>,
    skipped: Vec<SkippedRule>,
}

/// A rule `explain` passed over, and why.
#[derive(ts_rs::TS)]
#[allow(dead_code)]
pub struct SkippedRule {
    rule: String,
    why: String,
}

impl ts_rs::TS for Explanation {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name() -> String {
        ExplanationShape::name()
    }
    fn decl() -> String {
        ExplanationShape::decl()
    }
    fn decl_concrete() -> String {
        ExplanationShape::decl_concrete()
    }
    fn inline() -> String {
        ExplanationShape::inline()
    }
    fn inline_flattened() -> String {
        ExplanationShape::inline_flattened()
    }
}

/// One rule of the matrix (as the settings' matrix shows it, without its compiled patterns).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Rule {
    /// Its name, shown by `explain`.
    pub name: String,
    /// Glob patterns; empty matches every file.
    pub patterns: Vec<String>,
    /// Only files detected as one of these kinds; None for any.
    pub kinds: Option<Vec<Kind>>,
    /// The kind recorded for matching files; None keeps the detected kind.
    pub kind: Option<Kind>,
    /// Matches files of at least this many bytes.
    pub min_size: Option<u64>,
    /// Matches files of fewer than this many bytes.
    pub max_size: Option<u64>,
    /// Where matching files go.
    pub destination: Destination,
    /// The key prefix, e.g. `models/` (empty: the bucket's root).
    pub folder: String,
    /// Whether the organization prefix applies.
    pub org_prefix: bool,
    /// Compression: None decides by type and size.
    pub compress: Option<bool>,
    #[serde(skip)]
    #[ts(skip)]
    matcher: Matcher,
}

/// What a new policy file starts as: the built-in rules, and an example to adapt.
pub const STARTER: &str = r#"# Stowage's policy: rules are tried in order and the first that matches decides.
# The built-in rules (models, datasets, results, logs, caches…) run after yours.
include_defaults = true

# An example: CSV exports go to the primary, gzipped, under exports/.
# [[rule]]
# name = "csv-exports"
# patterns = ["exports/*.csv"]
# destination = "primary"    # never, local, primary or primary+secondary
# folder = "exports/"
# compress = true            # omit to decide by type and size
"#;

/// The compiled patterns of a rule: file-name globs and path globs, with each glob's pattern.
#[derive(Clone, Debug, Default)]
struct Matcher {
    names: Option<(GlobSet, Vec<usize>)>,
    paths: Option<(GlobSet, Vec<usize>)>,
}

/// The ordered rules and the settings they share.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The file the rules came from; None for the built-in defaults.
    pub source: Option<PathBuf>,
    /// The organization prefix used when a call supplies none.
    pub org: Option<String>,
    /// Automatic compression applies from this size.
    pub compress_min_size: u64,
    rules: Vec<Rule>,
}

/// The built-in kind patterns, checked in this order: files that must never leave come first,
/// so `logs/model-x.pt` is a log.
const KIND_PATTERNS: &[(Kind, &[&str])] = &[
    (Kind::Temp, &["*.tmp", "*.swp", "*~", ".~lock*", "*.part"]),
    (
        Kind::Cache,
        &["cache/**", ".cache/**", "__pycache__/**", "*.pyc"],
    ),
    (Kind::Log, &["*.log", "logs/**"]),
    (
        Kind::Dataset,
        &["enhanced-features-*.json", "dataset*.json"],
    ),
    (
        Kind::Model,
        &[
            "model-*",
            "*.pkl",
            "*.h5",
            "*.pt",
            "*.pth",
            "*.xgb",
            "*.lgb",
            "*.onnx",
            "*.safetensors",
        ],
    ),
    (
        Kind::Catalog,
        &["*CATALOG*.json", "TOP_REPOS*.json", "*catalog*.json"],
    ),
    (
        Kind::Export,
        &["audit-*.json", "exports/**", "*-export*.json"],
    ),
    (Kind::Results, &["training_results*", "*results*.json"]),
];

/// Extensions compressed automatically: JSON, JSON Lines, CSV and text.
const TEXT_EXTENSIONS: &[&str] = &[
    "json", "jsonl", "ndjson", "geojson", "csv", "tsv", "txt", "text", "md", "xml", "yaml", "yml",
    "html", "sql", "log",
];

/// Extensions that are compressed already: gzip would only cost time.
const COMPRESSED_EXTENSIONS: &[&str] = &[
    "gz",
    "tgz",
    "bz2",
    "xz",
    "zst",
    "zip",
    "7z",
    "br",
    "lz4",
    "parquet",
    "pt",
    "pth",
    "safetensors",
    "h5",
    "onnx",
    "png",
    "jpg",
    "jpeg",
    "webp",
    "mp4",
];

/// The path and name a file is matched by.
struct Target<'a> {
    path: String,
    name: &'a str,
}

impl<'a> Target<'a> {
    fn new(rel_path: &'a str) -> Target<'a> {
        let name = rel_path
            .rsplit(['/', '\\'])
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or(rel_path);
        let mut path = rel_path.replace('\\', "/");
        while let Some(rest) = path.strip_prefix("./") {
            path = rest.to_string();
        }
        Target {
            path: path.trim_start_matches('/').to_string(),
            name,
        }
    }
}

impl Matcher {
    /// Compile `patterns`; on failure, the index of the bad pattern and why.
    fn new(patterns: &[String]) -> std::result::Result<Matcher, (usize, String)> {
        let mut names = (GlobSetBuilder::new(), Vec::new());
        let mut paths = (GlobSetBuilder::new(), Vec::new());
        for (i, p) in patterns.iter().enumerate() {
            if p.trim().is_empty() {
                return Err((i, "the pattern is empty".into()));
            }
            let (glob, set) = if let Some(anchored) = p.strip_prefix('/') {
                (anchored.to_string(), &mut paths)
            } else if p.contains('/') {
                (format!("**/{p}"), &mut paths)
            } else {
                (p.clone(), &mut names)
            };
            let g = GlobBuilder::new(&glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| (i, e.kind().to_string()))?;
            set.0.add(g);
            set.1.push(i);
        }
        let build = |(b, idx): (GlobSetBuilder, Vec<usize>)| {
            if idx.is_empty() {
                Ok(None)
            } else {
                b.build()
                    .map(|s| Some((s, idx)))
                    .map_err(|e| (0, e.to_string()))
            }
        };
        Ok(Matcher {
            names: build(names)?,
            paths: build(paths)?,
        })
    }

    /// The index of the first pattern that matches.
    fn first_match(&self, t: &Target<'_>) -> Option<usize> {
        let in_set = |set: &Option<(GlobSet, Vec<usize>)>, s: &str| {
            set.as_ref()
                .and_then(|(g, idx)| g.matches(s).into_iter().map(|m| idx[m]).min())
        };
        match (in_set(&self.names, t.name), in_set(&self.paths, &t.path)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The built-in kind matchers, compiled once.
fn kind_matchers() -> &'static [(Kind, Vec<String>, Matcher)] {
    static M: OnceLock<Vec<(Kind, Vec<String>, Matcher)>> = OnceLock::new();
    M.get_or_init(|| {
        KIND_PATTERNS
            .iter()
            .map(|(k, ps)| {
                let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                let m = Matcher::new(&ps).expect("built-in patterns are valid");
                (*k, ps, m)
            })
            .collect()
    })
}

fn detect(t: &Target<'_>) -> (Kind, Option<String>) {
    for (kind, patterns, m) in kind_matchers() {
        if let Some(i) = m.first_match(t) {
            return (*kind, Some(patterns[i].clone()));
        }
    }
    (Kind::Other, None)
}

fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct DefaultRule {
    name: &'static str,
    kind: Option<Kind>,
    patterns: &'static [&'static str],
    min: Option<u64>,
    max: Option<u64>,
    destination: Option<Destination>,
    folder: &'static str,
}

fn kind_patterns(kind: Kind) -> &'static [&'static str] {
    KIND_PATTERNS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, p)| p)
}

/// The built-in rules, in evaluation order (the strategy's decision matrix).
fn default_rules() -> Vec<DefaultRule> {
    let never = |name, kind| DefaultRule {
        name,
        kind: Some(kind),
        patterns: kind_patterns(kind),
        destination: Some(Destination::Never),
        ..DefaultRule::default()
    };
    let up = |name, kind, min, folder| DefaultRule {
        name,
        kind: Some(kind),
        patterns: kind_patterns(kind),
        min,
        destination: Some(Destination::Primary),
        folder,
        ..DefaultRule::default()
    };
    vec![
        never("temporary-files", Kind::Temp),
        never("caches", Kind::Cache),
        never("logs", Kind::Log),
        up(
            "training-data",
            Kind::Dataset,
            Some(1_000_000),
            "training-data/",
        ),
        up("models", Kind::Model, Some(100_000), "models/"),
        up("catalogs", Kind::Catalog, Some(1_000_000), "catalogs/"),
        up("exports", Kind::Export, None, "exports/"),
        up("training-results", Kind::Results, None, "results/"),
        DefaultRule {
            name: "small-files",
            max: Some(100_000),
            destination: Some(Destination::Local),
            ..DefaultRule::default()
        },
        DefaultRule {
            name: "keep-local",
            destination: Some(Destination::Local),
            ..DefaultRule::default()
        },
    ]
}

fn builtin_rules() -> Vec<Rule> {
    default_rules()
        .into_iter()
        .map(|d| {
            let patterns: Vec<String> = d.patterns.iter().map(|p| p.to_string()).collect();
            Rule {
                name: d.name.into(),
                matcher: Matcher::new(&patterns).expect("built-in patterns are valid"),
                patterns,
                kinds: None,
                kind: d.kind,
                min_size: d.min,
                max_size: d.max,
                destination: d.destination.expect("every default has one"),
                folder: d.folder.into(),
                org_prefix: true,
                compress: None,
            }
        })
        .collect()
}

// The file's shape; every field is spanned so errors point at the line and column.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    org: Option<Spanned<String>>,
    include_defaults: Option<bool>,
    compress_min_size: Option<Spanned<RawSize>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    kinds: Option<Vec<Kind>>,
    kind: Option<Kind>,
    min_size: Option<Spanned<RawSize>>,
    max_size: Option<Spanned<RawSize>>,
    destination: Spanned<Destination>,
    folder: Option<Spanned<String>>,
    org_prefix: Option<bool>,
    compress: Option<Spanned<bool>>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::defaults()
    }
}

impl Policy {
    /// The built-in decision matrix from the ML storage strategy.
    pub fn defaults() -> Policy {
        Policy {
            source: None,
            org: None,
            compress_min_size: DEFAULT_COMPRESS_MIN_SIZE,
            rules: builtin_rules(),
        }
    }

    /// Where the policy file lives: `policy.toml` in the config folder.
    pub fn file(paths: &Paths) -> PathBuf {
        paths.config_dir.join(POLICY_FILE)
    }

    /// Load `policy.toml` from the config folder; without one, the defaults.
    pub fn load(paths: &Paths) -> Result<Policy> {
        let file = Policy::file(paths);
        match std::fs::read_to_string(&file) {
            Ok(text) => Policy::parse(&text, &file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::defaults()),
            Err(e) => Err(Error::Config(format!(
                "cannot read the policy file {}: {e}; check its permissions",
                file.display()
            ))),
        }
    }

    /// Parse policy `text` read from `file`.
    pub fn parse(text: &str, file: &Path) -> Result<Policy> {
        let at = |offset: usize, message: &str| {
            let (line, col) = crate::units::line_col(text, offset);
            Error::Config(format!("{}:{line}:{col}: {message}", file.display()))
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                &format!(
                    "{}; a rule has name, patterns, kinds, kind, min_size, max_size, \
                     destination (never, local, primary, primary+secondary), folder, \
                     org_prefix and compress",
                    e.message().trim()
                ),
            )
        })?;
        let size = |s: &Spanned<RawSize>| -> Result<u64> {
            match s.get_ref() {
                RawSize::Bytes(n) => Ok(*n),
                RawSize::Text(t) => parse_size(t).map_err(|m| at(s.span().start, &m)),
            }
        };
        let mut rules = Vec::new();
        for spanned in &raw.rule {
            let r = spanned.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(at(r.name.span().start, "a rule's name cannot be empty"));
            }
            if rules.iter().any(|x: &Rule| x.name == name) {
                return Err(at(
                    r.name.span().start,
                    &format!("a rule named `{name}` is already defined above; names are unique"),
                ));
            }
            let patterns: Vec<String> = r.patterns.iter().map(|p| p.get_ref().clone()).collect();
            let matcher = Matcher::new(&patterns).map_err(|(i, why)| {
                at(
                    r.patterns[i].span().start,
                    &format!(
                        "invalid pattern `{}` in rule `{name}`: {why}",
                        patterns[i].escape_debug()
                    ),
                )
            })?;
            let min_size = r.min_size.as_ref().map(size).transpose()?;
            let max_size = r.max_size.as_ref().map(size).transpose()?;
            if let (Some(min), Some(max), Some(span)) = (min_size, max_size, &r.max_size) {
                if max <= min {
                    return Err(at(
                        span.span().start,
                        &format!(
                            "max_size ({}) must be above min_size ({}) or rule `{name}` \
                             matches nothing",
                            human_size(max),
                            human_size(min)
                        ),
                    ));
                }
            }
            let destination = *r.destination.get_ref();
            let folder = match &r.folder {
                None => String::new(),
                Some(f) if !destination.uploads() => {
                    return Err(at(
                        f.span().start,
                        &format!(
                            "`folder` has no effect when destination is `{destination}`; \
                             remove it or upload with `primary`"
                        ),
                    ))
                }
                Some(f) => normalize_folder(f.get_ref()).map_err(|m| at(f.span().start, &m))?,
            };
            if let Some(c) = &r.compress {
                if *c.get_ref() && !destination.uploads() {
                    return Err(at(
                        c.span().start,
                        &format!("`compress` has no effect when destination is `{destination}`"),
                    ));
                }
            }
            rules.push(Rule {
                name,
                patterns,
                kinds: r.kinds.clone(),
                kind: r.kind,
                min_size,
                max_size,
                destination,
                folder,
                org_prefix: r.org_prefix.unwrap_or(true),
                compress: r.compress.as_ref().map(|c| *c.get_ref()),
                matcher,
            });
        }
        if raw.include_defaults.unwrap_or(true) {
            for d in builtin_rules() {
                // A user's rule of the same name replaces the built-in one.
                if !rules.iter().any(|r| r.name == d.name) {
                    rules.push(d);
                }
            }
        }
        let org = match &raw.org {
            None => None,
            Some(o) => Some(validate_org(o.get_ref()).map_err(|m| at(o.span().start, &m))?),
        };
        Ok(Policy {
            source: Some(file.to_path_buf()),
            org,
            compress_min_size: raw
                .compress_min_size
                .as_ref()
                .map(size)
                .transpose()?
                .unwrap_or(DEFAULT_COMPRESS_MIN_SIZE),
            rules,
        })
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decide for the file at `rel_path` (relative to the watched folder) of `size` bytes;
    /// `org` overrides the policy's organization.
    pub fn classify(&self, rel_path: &str, size: u64, org: Option<&str>) -> Decision {
        self.evaluate(rel_path, size, org, false).decision
    }

    /// Like [`Policy::classify`], with why each earlier rule did not match.
    pub fn explain(&self, rel_path: &str, size: u64, org: Option<&str>) -> Explanation {
        self.evaluate(rel_path, size, org, true)
    }

    fn evaluate(&self, rel_path: &str, size: u64, org: Option<&str>, why: bool) -> Explanation {
        let target = Target::new(rel_path);
        let detected = detect(&target);
        let mut skipped = Vec::new();
        for rule in &self.rules {
            match rule.test(&target, detected.0, size) {
                Ok(matched) => {
                    return Explanation {
                        decision: self.decide(rule, &target, detected.0, size, org),
                        skipped,
                        matched,
                        detected,
                    }
                }
                Err(reason) if why => skipped.push((rule.name.clone(), reason)),
                Err(_) => {}
            }
        }
        // Only a user policy without the defaults and without a catch-all gets here.
        let rule = Rule {
            name: "(no rule matched)".into(),
            patterns: Vec::new(),
            kinds: None,
            kind: None,
            min_size: None,
            max_size: None,
            destination: Destination::Local,
            folder: String::new(),
            org_prefix: false,
            compress: None,
            matcher: Matcher::default(),
        };
        Explanation {
            decision: self.decide(&rule, &target, detected.0, size, org),
            skipped,
            matched: "no rule matched, so the file stays local".into(),
            detected,
        }
    }

    fn decide(
        &self,
        rule: &Rule,
        t: &Target<'_>,
        detected: Kind,
        size: u64,
        org: Option<&str>,
    ) -> Decision {
        let uploads = rule.destination.uploads();
        let ext = extension(t.name);
        let compress = uploads
            && !COMPRESSED_EXTENSIONS.contains(&ext.as_str())
            && rule.compress.unwrap_or_else(|| {
                TEXT_EXTENSIONS.contains(&ext.as_str()) && size >= self.compress_min_size
            });
        let (key, key_error) = if uploads {
            let org = org.or(self.org.as_deref()).filter(|_| rule.org_prefix);
            // The file keeps its sub-folders (`gen-001/main.py` → `generations/gen-001/
            // main.py`): two files never share a key. A file already in a folder of the
            // rule's name (`models/m.pt` with folder `models/`) is not nested twice.
            let rel = if rule.folder.is_empty() || t.path.starts_with(&rule.folder) {
                t.path.clone()
            } else {
                format!("{}{}", rule.folder, t.path)
            };
            let key = match org {
                Some(o) => format!("{o}/{rel}"),
                None => rel,
            };
            match stowage_store::Key::parse(&key) {
                Ok(k) => (Some(k.as_str().to_string()), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        Decision {
            rule: rule.name.clone(),
            kind: rule.kind.unwrap_or(detected),
            destination: rule.destination,
            key,
            compress,
            size,
            key_error,
        }
    }
}

impl Rule {
    /// Ok(why it matched) or Err(why it did not).
    fn test(
        &self,
        t: &Target<'_>,
        detected: Kind,
        size: u64,
    ) -> std::result::Result<String, String> {
        let mut why = Vec::new();
        if !self.patterns.is_empty() {
            match self.matcher.first_match(t) {
                Some(i) => why.push(format!("matches `{}`", self.patterns[i])),
                None => {
                    return Err(format!(
                        "matches none of {}",
                        self.patterns
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        if let Some(kinds) = &self.kinds {
            let list = kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if !kinds.contains(&detected) {
                return Err(format!("kind {detected} is not one of {list}"));
            }
            why.push(format!("kind {detected} is one of {list}"));
        }
        if let Some(min) = self.min_size {
            if size < min {
                return Err(format!(
                    "size {} is below the minimum of {}",
                    human_size(size),
                    human_size(min)
                ));
            }
            why.push(format!(
                "size {} is at least {}",
                human_size(size),
                human_size(min)
            ));
        }
        if let Some(max) = self.max_size {
            if size >= max {
                return Err(format!(
                    "size {} is not below the maximum of {}",
                    human_size(size),
                    human_size(max)
                ));
            }
            why.push(format!(
                "size {} is below {}",
                human_size(size),
                human_size(max)
            ));
        }
        Ok(if why.is_empty() {
            "matches every file".into()
        } else {
            why.join("; ")
        })
    }
}

fn normalize_folder(raw: &str) -> std::result::Result<String, String> {
    let trimmed = raw.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    stowage_store::Key::parse(trimmed)
        .map(|k| format!("{k}/"))
        .map_err(|e| format!("invalid folder `{}`: {e}", raw.escape_debug()))
}

/// Check an organization prefix: one valid key segment.
pub fn validate_org(raw: &str) -> std::result::Result<String, String> {
    if raw.contains('/') {
        return Err(format!(
            "org `{}` must be one folder name, without `/`",
            raw.escape_debug()
        ));
    }
    stowage_store::Key::parse(raw)
        .map(|k| k.as_str().to_string())
        .map_err(|e| format!("invalid org `{}`: {e}", raw.escape_debug()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;
    const KB: u64 = 1_000;

    fn d(path: &str, size: u64) -> Decision {
        Policy::defaults().classify(path, size, None)
    }

    fn parse(text: &str) -> Result<Policy> {
        Policy::parse(text, Path::new("/cfg/policy.toml"))
    }

    #[test]
    fn the_strategy_matrix() {
        // (path, size, rule, kind, destination, key)
        type Case = (
            &'static str,
            u64,
            &'static str,
            Kind,
            Destination,
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            (
                "enhanced-features-2026-01-06T05-13-48-424Z.json",
                3_400 * KB,
                "training-data",
                Kind::Dataset,
                Destination::Primary,
                Some("training-data/enhanced-features-2026-01-06T05-13-48-424Z.json"),
            ),
            (
                "dataset-split.json",
                2 * MB,
                "training-data",
                Kind::Dataset,
                Destination::Primary,
                Some("training-data/dataset-split.json"),
            ),
            (
                "dataset.json",
                500 * KB,
                "keep-local",
                Kind::Dataset,
                Destination::Local,
                None,
            ),
            (
                "model-notable-quality-2026-01-05T21-01-16.json",
                1_700 * KB,
                "models",
                Kind::Model,
                Destination::Primary,
                Some("models/model-notable-quality-2026-01-05T21-01-16.json"),
            ),
            (
                "model-notable-quality-2026-01-06T01-48-25.json",
                648 * KB,
                "models",
                Kind::Model,
                Destination::Primary,
                Some("models/model-notable-quality-2026-01-06T01-48-25.json"),
            ),
            (
                "credit_risk_v2.1.pkl",
                40 * KB,
                "small-files",
                Kind::Model,
                Destination::Local,
                None,
            ),
            (
                "weights.safetensors",
                300 * MB,
                "models",
                Kind::Model,
                Destination::Primary,
                Some("models/weights.safetensors"),
            ),
            (
                "COMPLETE_CATALOG_FIXED.json",
                5_500 * KB,
                "catalogs",
                Kind::Catalog,
                Destination::Primary,
                Some("catalogs/COMPLETE_CATALOG_FIXED.json"),
            ),
            (
                "TOP_REPOS_WITH_CODE.json",
                4_400 * KB,
                "catalogs",
                Kind::Catalog,
                Destination::Primary,
                Some("catalogs/TOP_REPOS_WITH_CODE.json"),
            ),
            (
                "repo_catalog.json",
                1_100 * KB,
                "catalogs",
                Kind::Catalog,
                Destination::Primary,
                Some("catalogs/repo_catalog.json"),
            ),
            (
                "audit-2026-01-05.json",
                20 * KB,
                "exports",
                Kind::Export,
                Destination::Primary,
                Some("exports/audit-2026-01-05.json"),
            ),
            (
                "exports/summary.csv",
                2 * KB,
                "exports",
                Kind::Export,
                Destination::Primary,
                Some("exports/summary.csv"),
            ),
            (
                "training_results_20251022_130000.json.gz",
                5 * KB,
                "training-results",
                Kind::Results,
                Destination::Primary,
                Some("results/training_results_20251022_130000.json.gz"),
            ),
            (
                "scans/scan-owner-repo.json",
                20 * KB,
                "small-files",
                Kind::Other,
                Destination::Local,
                None,
            ),
            (
                "train.log",
                5 * MB,
                "logs",
                Kind::Log,
                Destination::Never,
                None,
            ),
            (
                "logs/model-x.pt",
                5 * MB,
                "logs",
                Kind::Log,
                Destination::Never,
                None,
            ),
            (
                "cache/x.bin",
                5 * MB,
                "caches",
                Kind::Cache,
                Destination::Never,
                None,
            ),
            (
                "src/__pycache__/m.cpython-312.pyc",
                KB,
                "caches",
                Kind::Cache,
                Destination::Never,
                None,
            ),
            (
                ".cache/dataset.json",
                9 * MB,
                "caches",
                Kind::Cache,
                Destination::Never,
                None,
            ),
            (
                "dataset.json.tmp",
                9 * MB,
                "temporary-files",
                Kind::Temp,
                Destination::Never,
                None,
            ),
            (
                ".~lock.x.csv#",
                1,
                "temporary-files",
                Kind::Temp,
                Destination::Never,
                None,
            ),
            (
                "notes.txt~",
                1,
                "temporary-files",
                Kind::Temp,
                Destination::Never,
                None,
            ),
            (
                "big.bin",
                9 * MB,
                "keep-local",
                Kind::Other,
                Destination::Local,
                None,
            ),
        ];
        for (path, size, rule, kind, dest, key) in cases {
            let got = d(path, *size);
            assert_eq!(
                (
                    got.rule.as_str(),
                    got.kind,
                    got.destination,
                    got.key.as_deref()
                ),
                (*rule, *kind, *dest, *key),
                "{path} at {size} bytes"
            );
            if let Some(k) = &got.key {
                stowage_store::Key::parse(k).unwrap();
            }
        }
    }

    #[test]
    fn thresholds_are_inclusive_below_and_exclusive_above() {
        assert_eq!(d("dataset.json", MB).rule, "training-data");
        assert_eq!(d("dataset.json", MB - 1).rule, "keep-local");
        assert_eq!(d("model-a.json", 100 * KB).rule, "models");
        assert_eq!(d("model-a.json", 100 * KB - 1).rule, "small-files");
        assert_eq!(d("x.bin", 100 * KB - 1).rule, "small-files");
        assert_eq!(d("x.bin", 100 * KB).rule, "keep-local");
    }

    #[test]
    fn compression_follows_type_and_size() {
        assert!(d("dataset.json", 3 * MB).compress);
        assert!(d("exports/summary.csv", 100 * KB).compress);
        assert!(!d("exports/summary.csv", KB).compress, "below 64 KB");
        assert!(!d("weights.pt", 3 * MB).compress, "already compressed");
        assert!(!d("model.pkl", 3 * MB).compress, "not text");
        assert!(!d("train.log", 3 * MB).compress, "never leaves");
        assert!(
            !d("training_results_1.json.gz", 3 * MB).compress,
            "gzip already"
        );
        let p = parse("[[rule]]\nname = \"all\"\ndestination = \"primary\"\ncompress = true\n")
            .unwrap();
        assert!(p.classify("a.pkl", 1, None).compress);
        assert!(!p.classify("a.gz", 1, None).compress);
    }

    #[test]
    fn org_prefix_from_policy_or_call() {
        let dflt = Policy::defaults();
        assert_eq!(
            dflt.classify("model-a.json", MB, Some("acme"))
                .key
                .as_deref(),
            Some("acme/models/model-a.json")
        );
        let p = parse(
            "org = \"lab\"\n[[rule]]\nname = \"flat\"\npatterns = [\"*.bin\"]\n\
             destination = \"primary+secondary\"\nfolder = \"raw\"\norg_prefix = false\n",
        )
        .unwrap();
        assert_eq!(
            p.classify("model-a.json", MB, None).key.as_deref(),
            Some("lab/models/model-a.json")
        );
        assert_eq!(
            p.classify("model-a.json", MB, Some("acme")).key.as_deref(),
            Some("acme/models/model-a.json")
        );
        let flat = p.classify("a/x.bin", 1, Some("acme"));
        // The file's sub-folder is kept under the rule's folder.
        assert_eq!(flat.key.as_deref(), Some("raw/a/x.bin"));
        assert_eq!(flat.destination, Destination::PrimaryAndSecondary);
    }

    #[test]
    fn explain_says_why_earlier_rules_did_not_match() {
        let e = Policy::defaults().explain(
            "model-notable-quality-2026-01-06T01-48-25.json",
            648 * KB,
            None,
        );
        assert_eq!(e.decision.rule, "models");
        assert_eq!(
            e.matched,
            "matches `model-*`; size 648 KB is at least 100 KB"
        );
        let skipped: Vec<&str> = e.skipped.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            skipped,
            ["temporary-files", "caches", "logs", "training-data"]
        );
        assert!(e.skipped[3]
            .1
            .starts_with("matches none of `enhanced-features-*.json`"));
        let e = Policy::defaults().explain("dataset.json", 20 * KB, None);
        assert_eq!(
            e.skipped[3],
            (
                "training-data".to_string(),
                "size 20 KB is below the minimum of 1 MB".to_string()
            )
        );
        assert_eq!(e.detected, (Kind::Dataset, Some("dataset*.json".into())));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["rule"], "small-files");
        assert_eq!(json["destination"], "local");
        assert_eq!(json["kind"], "dataset");
        assert_eq!(json["skipped"][3]["rule"], "training-data");
        assert!(json.get("key_error").is_none());
    }

    #[test]
    fn user_rules_run_before_the_defaults() {
        let p = parse(
            r#"
compress_min_size = "1KiB"
[[rule]]
name = "checkpoints"
patterns = ["checkpoints/**", "*.ckpt"]
kinds = ["model", "other"]
kind = "model"
min_size = "5MiB"
max_size = "2GB"
destination = "primary+secondary"
folder = "models/checkpoints/"
"#,
        )
        .unwrap();
        assert_eq!(p.compress_min_size, 1024);
        let c = p.classify("run1/checkpoints/step-100.bin", 6 << 20, None);
        assert_eq!(c.rule, "checkpoints");
        assert_eq!(c.kind, Kind::Model);
        assert_eq!(
            c.key.as_deref(),
            Some("models/checkpoints/run1/checkpoints/step-100.bin")
        );
        // A file already in a folder of the rule's name is not nested twice.
        assert_eq!(
            p.classify("models/checkpoints/s.bin", 6 << 20, None)
                .key
                .as_deref(),
            Some("models/checkpoints/s.bin")
        );
        assert_eq!(p.classify("a.ckpt", 1 << 20, None).rule, "keep-local");
        assert_eq!(
            p.classify("dataset.json", 2 * MB, None).rule,
            "training-data"
        );
        let only = parse(
            "include_defaults = false\n[[rule]]\nname = \"ds\"\npatterns = [\"*.csv\"]\n\
             destination = \"primary\"\nfolder = \"training-data\"\n",
        )
        .unwrap();
        assert_eq!(only.rules().len(), 1);
        let e = only.explain("x.bin", 1, None);
        assert_eq!(e.decision.rule, "(no rule matched)");
        assert_eq!(e.decision.destination, Destination::Local);
        assert_eq!(
            only.classify("a.csv", 1, None).key.as_deref(),
            Some("training-data/a.csv")
        );
    }

    #[test]
    fn a_user_rule_replaces_the_default_of_the_same_name() {
        let p = parse(
            "[[rule]]\nname = \"models\"\npatterns = [\"model-*\"]\nmin_size = \"500KB\"\n\
             destination = \"primary\"\nfolder = \"models/\"\n",
        )
        .unwrap();
        assert_eq!(p.rules().iter().filter(|r| r.name == "models").count(), 1);
        assert_eq!(
            p.classify("model-a.json", 400 * KB, None).rule,
            "keep-local"
        );
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let cases = [
            (
                "[[rule]]\nname = \"a\"\ndestination = \"cloud\"\n",
                ":3:15:",
                "unknown variant `cloud`",
            ),
            (
                "[[rule]]\nname = \"a\"\ndestination = \"local\"\nkinds = [\"weights\"]\n",
                ":4:10:",
                "unknown variant `weights`",
            ),
            (
                "[[rule]]\nname = \"a\"\ndestination = \"local\"\npaterns = []\n",
                ":4:1:",
                "unknown field `paterns`",
            ),
            (
                "[[rule]]\nname = \"a\"\npatterns = [\"*.json\", \"[abc\"]\ndestination = \"local\"\n",
                ":3:23:",
                "invalid pattern `[abc` in rule `a`: unclosed character class",
            ),
            (
                "[[rule]]\nname = \"a\"\nmin_size = \"1 parsec\"\ndestination = \"local\"\n",
                ":3:12:",
                "unknown size unit `parsec`",
            ),
            (
                "[[rule]]\nname = \"a\"\nmin_size = true\ndestination = \"local\"\n",
                ":3:12:",
                "",
            ),
            (
                "[[rule]]\nname = \"a\"\nmin_size = \"2MB\"\nmax_size = \"1MB\"\ndestination = \"local\"\n",
                ":4:12:",
                "max_size (1 MB) must be above min_size (2 MB)",
            ),
            (
                "[[rule]]\nname = \"a\"\ndestination = \"never\"\nfolder = \"x/\"\n",
                ":4:10:",
                "`folder` has no effect",
            ),
            (
                "[[rule]]\nname = \"a\"\ndestination = \"primary\"\nfolder = \"a/../b\"\n",
                ":4:10:",
                "invalid folder",
            ),
            ("org = \"a/b\"\n", ":1:7:", "one folder name"),
            (
                "[[rule]]\nname = \"a\"\ndestination = \"local\"\n[[rule]]\nname = \"a\"\ndestination = \"local\"\n",
                ":5:8:",
                "already defined",
            ),
            ("[[rule]]\nname = \"a\"\n", ":1:1:", "missing field `destination`"),
            ("[[rule]\n", ":1:", "unclosed array table"),
        ];
        for (text, pos, msg) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with("/cfg/policy.toml:") && err.contains(pos) && err.contains(msg),
                "{text:?} gave {err}"
            );
        }
    }

    #[test]
    fn sizes() {
        for (text, n) in [
            ("1MB", MB),
            ("100KB", 100 * KB),
            ("5MiB", 5 << 20),
            ("1.5 MB", 1_500_000),
            ("0.5KiB", 512),
            ("2048", 2048),
            ("1gb", 1_000_000_000),
            ("64 kb", 64_000),
        ] {
            assert_eq!(parse_size(text), Ok(n), "{text}");
        }
        for bad in [
            "",
            "MB",
            "1.2.3MB",
            "-1MB",
            "99999999999999999999",
            "1 XB",
            "1e6",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human_size(3_400_000), "3.4 MB");
        assert_eq!(human_size(648_000), "648 KB");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(5_500_000), "5.5 MB");
    }

    #[test]
    fn loads_the_file_from_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().into(),
            data_dir: dir.path().into(),
            cache_dir: dir.path().into(),
        };
        let p = Policy::load(&paths).unwrap();
        assert!(p.source.is_none());
        std::fs::write(dir.path().join(POLICY_FILE), "org = \"acme\"\n").unwrap();
        let p = Policy::load(&paths).unwrap();
        assert_eq!(p.org.as_deref(), Some("acme"));
        assert_eq!(p.rules().len(), Policy::defaults().rules().len());
    }

    #[test]
    fn odd_names_never_panic_and_keys_stay_valid() {
        let p = Policy::defaults();
        for name in [
            "",
            "/",
            "a/",
            "dataset.json/",
            "..",
            "./././x.log",
            "a\\b\\model-x.pt",
        ] {
            let c = p.classify(name, 10 * MB, None);
            if let Some(k) = &c.key {
                stowage_store::Key::parse(k).unwrap();
            }
        }
        let c = p.classify("model-\u{7}.json", MB, None);
        assert_eq!(c.key, None);
        assert!(c.key_error.unwrap().contains("control character"));
        assert_eq!(
            p.classify("a\\b\\model-x.pt", MB, None).key.as_deref(),
            Some("models/a/b/model-x.pt")
        );
    }
}
