//! Versions from names (M4): a file name splits into a family (what the artifact is), a version
//! written into the name (a timestamp or a `v1.2.3` number) and an extension, with compression
//! suffixes ignored. `model-notable-quality-2026-01-06T20-26-17.json` is version
//! `2026-01-06T20-26-17` of `model-notable-quality`; `credit_risk_v2.1.pkl` is `v2.1` of
//! `credit_risk`; `credit_risk_v2.0.0-rc1.pkl` is the pre-release `v2.0.0-rc1` of the same
//! family, ordered before `v2.0.0` as semver orders it. Names without a version
//! (`dataset.json`) get content versions from the catalog instead.

use std::cmp::Ordering;
use std::fmt;

use time::{Date, Month, PrimitiveDateTime, Time};

/// Suffixes of compressed files, ignored when naming the family and extension.
const COMPRESSION_SUFFIXES: &[&str] = &["gz", "gzip", "bz2", "xz", "zst", "zstd", "br", "lz4"];

/// A file name split into family, version and extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedName {
    /// What the artifact is, without its version: `model-notable-quality`.
    pub family: String,
    /// The version written in the name, if any.
    pub version: Option<VersionTag>,
    /// The extension as written, without the dot and any compression suffix: `json`.
    pub extension: String,
}

/// A version written in a file name, with the text as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VersionTag {
    /// A date or date and time: `2026-01-06T20-26-17`, `20251022_130000`, `2025-10-22`.
    Timestamp(PrimitiveDateTime, String),
    /// A version number: `v2.1` is `[2, 1]`; a pre-release suffix (`v2.0.0-rc1`) is kept in
    /// the text ([`VersionTag::prerelease`]).
    Number(Vec<u64>, String),
}

impl VersionTag {
    /// A number version written the usual way: `[1, 10]` is `v1.10`.
    pub fn number(components: &[u64]) -> VersionTag {
        let text = components
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        VersionTag::Number(components.to_vec(), format!("v{text}"))
    }

    /// A timestamp written the way training scripts name files: `2026-01-06T20-26-17`, with
    /// `-424` milliseconds (or nine digits of nanoseconds) when there are any.
    pub fn timestamp(at: PrimitiveDateTime) -> VersionTag {
        let (d, t) = (at.date(), at.time());
        let mut text = format!(
            "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        let nanos = t.nanosecond();
        if nanos % 1_000_000 == 0 && nanos != 0 {
            text.push_str(&format!("-{:03}", nanos / 1_000_000));
        } else if nanos != 0 {
            text.push_str(&format!("-{nanos:09}"));
        }
        VersionTag::Timestamp(at, text)
    }

    /// The version as written in the name.
    pub fn as_written(&self) -> &str {
        match self {
            VersionTag::Timestamp(_, s) | VersionTag::Number(_, s) => s,
        }
    }

    /// A number's pre-release identifiers (`rc1` of `v2.0.0-rc1`, `beta.2` of `v1-beta.2`);
    /// empty for a release and for timestamps.
    pub fn prerelease(&self) -> Vec<PreId> {
        match self {
            VersionTag::Number(_, text) => split_number(text.get(1..).unwrap_or(""))
                .map(|(_, pre)| pre)
                .unwrap_or_default(),
            VersionTag::Timestamp(..) => Vec::new(),
        }
    }
}

/// Words that start a pre-release suffix (`rc1`, `beta.2`, `alpha`, `dev3`). Only these: an
/// arbitrary suffix (`bert_v2-large`) names a different model, not a pre-release.
const PRERELEASE_WORDS: &[&str] = &["alpha", "beta", "preview", "pre", "dev", "rc", "a", "b"];

/// One pre-release identifier, ordered as semver orders them: numbers before words, numbers
/// by value, words by their letters and then their trailing number (`rc2` < `rc10`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreId {
    /// A number: `1` of `rc.1`.
    Number(u64),
    /// A word and its trailing number: `rc1` is `("rc", Some(1))`.
    Word(String, Option<u64>),
}

impl PreId {
    fn parse(id: &str, first: bool) -> Option<PreId> {
        if id.is_empty() {
            return None;
        }
        if id.bytes().all(|b| b.is_ascii_digit()) {
            return (!first).then(|| id.parse().ok().map(PreId::Number))?;
        }
        let split = id.find(|c: char| c.is_ascii_digit()).unwrap_or(id.len());
        let (word, digits) = id.split_at(split);
        let word = word.to_ascii_lowercase();
        if !PRERELEASE_WORDS.contains(&word.as_str()) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let n = if digits.is_empty() {
            None
        } else {
            Some(digits.parse().ok()?)
        };
        Some(PreId::Word(word, n))
    }

    /// A sort key that orders like `Ord` and never is a prefix of another identifier's.
    fn sort_key(&self) -> String {
        match self {
            PreId::Number(n) => format!("0{}", sort_key(&n.to_string())),
            PreId::Word(w, n) => format!(
                "1{w} {}",
                n.map_or("0".to_string(), |n| format!(
                    "1{}",
                    sort_key(&n.to_string())
                ))
            ),
        }
    }
}

/// `2.0.0-rc1` (after the `v`) as its components and pre-release identifiers.
fn split_number(body: &str) -> Option<(Vec<u64>, Vec<PreId>)> {
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (numbers, rest) = body.split_at(end);
    let mut parts = Vec::new();
    for p in numbers.split('.') {
        if p.is_empty() {
            return None;
        }
        parts.push(p.parse::<u64>().ok()?);
    }
    let mut pre = Vec::new();
    if !rest.is_empty() {
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        for (i, id) in rest.split('.').enumerate() {
            pre.push(PreId::parse(id, i == 0)?);
        }
    }
    Some((parts, pre))
}

/// A sort key for a number version that orders as [`VersionTag`]'s `Ord` does: numerically
/// (trailing zero components ignored), a pre-release before its release, then fewer
/// components first.
pub fn number_sort_key(parts: &[u64], prerelease: &[PreId]) -> String {
    let significant = parts.len() - parts.iter().rev().take_while(|p| **p == 0).count();
    let mut s = String::from("N");
    for p in &parts[..significant] {
        s.push_str(&sort_key(&p.to_string()));
        s.push('.');
    }
    // `,` sorts before digits: a shorter number is smaller.
    s.push(',');
    if prerelease.is_empty() {
        s.push('~');
    } else {
        s.push('-');
        let ids: Vec<String> = prerelease.iter().map(PreId::sort_key).collect();
        s.push_str(&ids.join("!"));
    }
    s.push(' ');
    s.push_str(&sort_key(&parts.len().to_string()));
    s
}

impl Ord for VersionTag {
    /// Numbers sort before timestamps; timestamps by time; numbers component by component
    /// (missing components count as 0, so v1.10 > v1.9 and v2 = v2.0 numerically), a
    /// pre-release before its release (v2.0.0-rc1 < v2.0.0-rc2 < v2.0.0). Ties break on the
    /// components, then on the text, so the order is total and agrees with `==`.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (VersionTag::Timestamp(a, sa), VersionTag::Timestamp(b, sb)) => {
                a.cmp(b).then_with(|| sa.cmp(sb))
            }
            (VersionTag::Number(a, sa), VersionTag::Number(b, sb)) => numeric_cmp(a, b)
                .then_with(|| {
                    let (pa, pb) = (self.prerelease(), other.prerelease());
                    match (pa.is_empty(), pb.is_empty()) {
                        (true, true) => Ordering::Equal,
                        (true, false) => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        (false, false) => pa.cmp(&pb),
                    }
                })
                .then_with(|| a.cmp(b))
                .then_with(|| sa.cmp(sb)),
            (VersionTag::Number(..), VersionTag::Timestamp(..)) => Ordering::Less,
            (VersionTag::Timestamp(..), VersionTag::Number(..)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for VersionTag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Component-wise comparison with missing components as 0.
fn numeric_cmp(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl fmt::Display for VersionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_written())
    }
}

impl fmt::Display for ParsedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.family)?;
        if let Some(v) = &self.version {
            write!(f, " {v}")?;
        }
        if !self.extension.is_empty() {
            write!(f, " (.{})", self.extension)?;
        }
        Ok(())
    }
}

/// Split a file name (a path's last segment is used) into family, version and extension.
pub fn parse_name(file_name: &str) -> ParsedName {
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(file_name);
    let mut rest = name;
    while let Some((stem, suffix)) = rest.rsplit_once('.') {
        let compressed = COMPRESSION_SUFFIXES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(suffix));
        if stem.is_empty() || !compressed {
            break;
        }
        rest = stem;
    }
    let (stem, extension) = match rest.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && is_extension(ext) => (stem, ext),
        _ => (rest, ""),
    };
    let (family, version) = split_version(stem);
    ParsedName {
        family: family.to_string(),
        version,
        extension: extension.to_string(),
    }
}

/// An extension starts with a letter (`json`, `h5`) so that `v2.1` and `.424Z` are not ones.
fn is_extension(ext: &str) -> bool {
    (1..=16).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && (ext.as_bytes()[0].is_ascii_alphabetic() || ext.eq_ignore_ascii_case("7z"))
}

/// The longest version at the end of `stem` after a separator, leaving a non-empty family.
fn split_version(stem: &str) -> (&str, Option<VersionTag>) {
    let bytes = stem.as_bytes();
    for i in 1..bytes.len() {
        // Separators are ASCII, so `i` is a character boundary whenever this holds.
        if matches!(bytes[i - 1], b'_' | b'-' | b'.' | b' ') && i >= 2 {
            if let Some(tag) = parse_tag(&stem[i..]) {
                return (&stem[..i - 1], Some(tag));
            }
        }
    }
    (stem, None)
}

/// A whole string as a version tag, or None.
fn parse_tag(s: &str) -> Option<VersionTag> {
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'v' | b'V')) {
        let (parts, _) = split_number(&s[1..])?;
        return Some(VersionTag::Number(parts, s.to_string()));
    }
    parse_timestamp(b).map(|at| VersionTag::Timestamp(at, s.to_string()))
}

/// `YYYY-MM-DD`, `YYYY-MM-DD[T_ ]HH-MM-SS[-fff][Z]` (`:` also separates time fields) and
/// `YYYYMMDD[_T-]HHMMSS[Z]`.
fn parse_timestamp(b: &[u8]) -> Option<PrimitiveDateTime> {
    let mut c = Cursor { b, i: 0 };
    let (y, mo, d);
    let compact = b.len() >= 9 && b[..8].iter().all(u8::is_ascii_digit);
    if compact {
        y = c.digits(4)?;
        mo = c.digits(2)?;
        d = c.digits(2)?;
    } else {
        y = c.digits(4)?;
        c.byte(b"-")?;
        mo = c.digits(2)?;
        c.byte(b"-")?;
        d = c.digits(2)?;
    }
    let date = Date::from_calendar_date(
        i32::try_from(y).ok()?,
        Month::try_from(u8::try_from(mo).ok()?).ok()?,
        u8::try_from(d).ok()?,
    )
    .ok()?;
    if c.done() {
        return (!compact).then(|| date.midnight());
    }
    let (h, mi, s);
    let mut nanos = 0;
    if compact {
        c.byte(b"_T-")?;
        h = c.digits(2)?;
        mi = c.digits(2)?;
        s = c.digits(2)?;
    } else {
        c.byte(b"T_ ")?;
        h = c.digits(2)?;
        c.byte(b"-:")?;
        mi = c.digits(2)?;
        c.byte(b"-:")?;
        s = c.digits(2)?;
        if c.byte(b"-.").is_some() {
            let start = c.i;
            while c.i < b.len() && b[c.i].is_ascii_digit() && c.i - start < 9 {
                c.i += 1;
            }
            let frac = &b[start..c.i];
            if frac.is_empty() {
                return None;
            }
            let value: u32 = std::str::from_utf8(frac).ok()?.parse().ok()?;
            nanos = value * 10u32.pow(9 - frac.len() as u32);
        }
    }
    let _ = c.byte(b"Zz");
    if !c.done() {
        return None;
    }
    let time = Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(s).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.b.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    fn byte(&mut self, any_of: &[u8]) -> Option<()> {
        let b = *self.b.get(self.i)?;
        any_of.contains(&b).then(|| self.i += 1)
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// The framework a model file's extension (with or without the dot) belongs to.
pub fn framework(ext: &str) -> Option<&'static str> {
    let ext = ext.strip_prefix('.').unwrap_or(ext).to_ascii_lowercase();
    Some(match ext.as_str() {
        "pkl" | "joblib" => "scikit-learn",
        "h5" | "keras" => "Keras",
        "pt" | "pth" => "PyTorch",
        "xgb" => "XGBoost",
        "lgb" => "LightGBM",
        "onnx" => "ONNX",
        "safetensors" => "safetensors",
        _ => return None,
    })
}

/// A zero-padded natural sort key: runs of digits compare by value, so `v10` follows `v9` and
/// `2026-01-06T03-27-22` follows `2026-01-05T21-01-16`.
pub fn sort_key(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len() + 16);
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            let trimmed = digits.trim_start_matches('0');
            let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
            // Length first keeps arbitrarily long numbers ordered by value.
            out.push_str(&format!("{:03}{trimmed}", trimmed.len()));
            digits.clear();
        }
    };
    for c in tag.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dt(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8, ms: u32) -> PrimitiveDateTime {
        PrimitiveDateTime::new(
            Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d).unwrap(),
            Time::from_hms_milli(h, mi, s, ms as u16).unwrap(),
        )
    }

    fn num(v: &[u64]) -> VersionTag {
        VersionTag::number(v)
    }

    #[test]
    fn examples() {
        let p = parse_name("model-notable-quality-2026-01-06T20-26-17.json");
        assert_eq!(p.family, "model-notable-quality");
        assert_eq!(p.extension, "json");
        assert_eq!(
            p.version,
            Some(VersionTag::Timestamp(
                dt(2026, 1, 6, 20, 26, 17, 0),
                "2026-01-06T20-26-17".into()
            ))
        );
        assert_eq!(
            p.to_string(),
            "model-notable-quality 2026-01-06T20-26-17 (.json)"
        );

        let p = parse_name("enhanced-features-2026-01-06T05-13-48-424Z.json");
        assert_eq!(p.family, "enhanced-features");
        assert_eq!(
            p.version,
            Some(VersionTag::Timestamp(
                dt(2026, 1, 6, 5, 13, 48, 424),
                "2026-01-06T05-13-48-424Z".into()
            ))
        );

        let p = parse_name("training_results_20251022_130000.json.gz");
        assert_eq!(
            (p.family.as_str(), p.extension.as_str()),
            ("training_results", "json")
        );
        assert_eq!(
            p.version,
            Some(VersionTag::Timestamp(
                dt(2025, 10, 22, 13, 0, 0, 0),
                "20251022_130000".into()
            ))
        );

        let p = parse_name("audit-2025-10-22.json");
        assert_eq!(p.family, "audit");
        assert_eq!(
            p.version,
            Some(VersionTag::Timestamp(
                dt(2025, 10, 22, 0, 0, 0, 0),
                "2025-10-22".into()
            ))
        );

        let p = parse_name("credit_risk_v2.1.pkl");
        assert_eq!(
            (p.family.as_str(), p.extension.as_str()),
            ("credit_risk", "pkl")
        );
        assert_eq!(
            p.version,
            Some(VersionTag::Number(vec![2, 1], "v2.1".into()))
        );
        assert_eq!(p.to_string(), "credit_risk v2.1 (.pkl)");

        let p = parse_name("fraud_v1.5.2.onnx");
        assert_eq!(p.family, "fraud");
        assert_eq!(p.version, Some(num(&[1, 5, 2])));

        let p = parse_name("churn-v3.0.h5");
        assert_eq!(p.family, "churn");
        assert_eq!(p.version, Some(num(&[3, 0])));

        let p = parse_name("ranker-v10.xgb");
        assert_eq!(p.family, "ranker");
        assert_eq!(p.version, Some(num(&[10])));

        let p = parse_name("dataset.json");
        assert_eq!(
            p,
            ParsedName {
                family: "dataset".into(),
                version: None,
                extension: "json".into()
            }
        );
        assert_eq!(p.to_string(), "dataset (.json)");
    }

    #[test]
    fn edge_names() {
        let p = parse_name("runs/2026/model_v2.pt");
        assert_eq!((p.family.as_str(), p.version), ("model", Some(num(&[2]))));
        // A version alone is a family, never an empty one.
        assert_eq!(parse_name("v2.pt").family, "v2");
        assert_eq!(parse_name("v2.pt").version, None);
        assert_eq!(parse_name("model_v2.1").extension, "");
        assert_eq!(parse_name("model_v2.1").version, Some(num(&[2, 1])));
        // Not dates: bad month, bad day, a compact date without a time.
        for n in ["x_2025-13-01.json", "x_2025-02-30.json", "x_20251022.json"] {
            assert_eq!(parse_name(n).version, None, "{n}");
        }
        assert_eq!(parse_name("archive.tar.gz").extension, "tar");
        assert_eq!(parse_name(".bashrc").family, ".bashrc");
        assert_eq!(parse_name("").family, "");
        let p = parse_name("x_2026-01-06T05:13:48.5Z.json");
        assert_eq!(
            p.version,
            Some(VersionTag::Timestamp(
                dt(2026, 1, 6, 5, 13, 48, 500),
                "2026-01-06T05:13:48.5Z".into()
            ))
        );
        assert_eq!(parse_name("big_v99999999999999999999999.pt").version, None);
    }

    #[test]
    fn ordering() {
        assert!(num(&[1, 10]) > num(&[1, 9]));
        assert!(num(&[2]) > num(&[1, 99, 99]));
        assert!(
            num(&[2]) < num(&[2, 0]),
            "equal numerically, ordered by components"
        );
        assert!(num(&[100]) < VersionTag::timestamp(dt(2020, 1, 1, 0, 0, 0, 0)));
        let mut names = [
            "m_v1.10.pt",
            "m_v1.9.pt",
            "m_v1.2.pt",
            "m_v10.pt",
            "m_v2.pt",
        ]
        .map(|n| parse_name(n).version.unwrap());
        names.sort();
        let written: Vec<&str> = names.iter().map(VersionTag::as_written).collect();
        assert_eq!(written, ["v1.2", "v1.9", "v1.10", "v2", "v10"]);
        let a = parse_name("model-notable-quality-2026-01-05T21-01-16.json").version;
        let b = parse_name("model-notable-quality-2026-01-06T01-48-25.json").version;
        assert!(a < b);
    }

    #[test]
    fn prereleases_join_their_family_and_order_as_semver() {
        let p = parse_name("credit_risk_v2.0.0-rc1.pkl");
        assert_eq!(
            (p.family.as_str(), p.extension.as_str()),
            ("credit_risk", "pkl")
        );
        let rc1 = p.version.unwrap();
        assert_eq!(rc1.as_written(), "v2.0.0-rc1");
        assert_eq!(rc1.prerelease(), [PreId::Word("rc".into(), Some(1))]);
        let tags: Vec<VersionTag> = [
            "m_v2.0.0.pt",
            "m_v2.0.0-rc10.pt",
            "m_v1.9.pt",
            "m_v2.0.0-beta.2.pt",
            "m_v2.0.0-rc2.pt",
            "m_v2.0.0-alpha.pt",
            "m_v2.0.0-rc.1.pt",
            "m_v2.0.1-rc1.pt",
            "m_v2.0.0rc3.pt",
        ]
        .iter()
        .map(|n| {
            let p = parse_name(n);
            assert_eq!(p.family, "m", "{n}");
            p.version.unwrap()
        })
        .collect();
        let mut sorted = tags.clone();
        sorted.sort();
        let written: Vec<&str> = sorted.iter().map(VersionTag::as_written).collect();
        assert_eq!(
            written,
            [
                "v1.9",
                "v2.0.0-alpha",
                "v2.0.0-beta.2",
                "v2.0.0-rc.1",
                "v2.0.0-rc2",
                "v2.0.0rc3",
                "v2.0.0-rc10",
                "v2.0.0",
                "v2.0.1-rc1"
            ]
        );
        // The sort key orders the same way.
        let mut by_key = tags;
        by_key.sort_by_key(|t| match t {
            VersionTag::Number(p, _) => number_sort_key(p, &t.prerelease()),
            VersionTag::Timestamp(..) => unreachable!(),
        });
        assert_eq!(by_key, sorted);
        // Any other suffix names another model, not a pre-release.
        assert_eq!(parse_name("bert_v2-large.pt").family, "bert_v2-large");
        assert_eq!(parse_name("bert_v2-large.pt").version, None);
    }

    #[test]
    fn frameworks() {
        for (ext, fw) in [
            ("pkl", "scikit-learn"),
            (".h5", "Keras"),
            ("pt", "PyTorch"),
            ("PTH", "PyTorch"),
            ("xgb", "XGBoost"),
            ("lgb", "LightGBM"),
            ("onnx", "ONNX"),
            ("safetensors", "safetensors"),
        ] {
            assert_eq!(framework(ext), Some(fw), "{ext}");
        }
        assert_eq!(framework("json"), None);
    }

    fn datetime_strategy() -> impl Strategy<Value = PrimitiveDateTime> {
        (
            1970i32..2100,
            1u8..=12,
            1u8..=28,
            0u8..24,
            0u8..60,
            0u8..60,
            prop_oneof![Just(0u32), 0u32..1000, 0u32..1_000_000_000],
        )
            .prop_map(|(y, mo, d, h, mi, s, frac)| {
                let nanos = if frac < 1000 { frac * 1_000_000 } else { frac };
                PrimitiveDateTime::new(
                    Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d).unwrap(),
                    Time::from_hms_nano(h, mi, s, nanos).unwrap(),
                )
            })
    }

    fn tag_strategy() -> impl Strategy<Value = VersionTag> {
        prop_oneof![
            prop::collection::vec(0u64..2000, 1..5).prop_map(|v| VersionTag::number(&v)),
            (
                prop::collection::vec(0u64..20, 1..4),
                prop::sample::select(vec!["-rc1", "-rc10", "-rc.2", "-beta", "-alpha.1", "rc3"]),
            )
                .prop_map(|(v, pre)| {
                    let VersionTag::Number(c, text) = VersionTag::number(&v) else {
                        unreachable!()
                    };
                    VersionTag::Number(c, format!("{text}{pre}"))
                }),
            datetime_strategy().prop_map(VersionTag::timestamp),
            // The compact and date-only forms, written as scripts write them.
            datetime_strategy().prop_map(|t| {
                let t = t.replace_nanosecond(0).unwrap();
                let (d, c) = (t.date(), t.time());
                let text = format!(
                    "{:04}{:02}{:02}_{:02}{:02}{:02}",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    c.hour(),
                    c.minute(),
                    c.second()
                );
                VersionTag::Timestamp(t, text)
            }),
            datetime_strategy().prop_map(|t| {
                let d = t.date();
                let text = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
                VersionTag::Timestamp(d.midnight(), text)
            }),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let p = parse_name(&s);
            prop_assert!(s.is_empty() || !p.family.is_empty());
        }

        #[test]
        fn parse_never_panics_on_name_like_text(s in "[a-zA-Z0-9_.:/ \\-]{0,40}") {
            let p = parse_name(&s);
            if let Some(v) = &p.version {
                prop_assert!(s.contains(v.as_written()));
            }
        }

        #[test]
        fn number_order_follows_the_components(
            a in prop::collection::vec(0u64..20, 1..5),
            b in prop::collection::vec(0u64..20, 1..5),
        ) {
            let (ta, tb) = (num(&a), num(&b));
            let pad = |v: &[u64]| { let mut v = v.to_vec(); v.resize(5, 0); v };
            if pad(&a) != pad(&b) {
                prop_assert_eq!(ta.cmp(&tb), pad(&a).cmp(&pad(&b)));
            }
            prop_assert_eq!(ta.cmp(&tb), tb.cmp(&ta).reverse());
            prop_assert_eq!(ta.cmp(&tb) == Ordering::Equal, ta == tb);
        }

        #[test]
        fn order_is_total_and_transitive(mut tags in prop::collection::vec(tag_strategy(), 1..12)) {
            tags.sort();
            for i in 0..tags.len() {
                for j in i..tags.len() {
                    prop_assert!(tags[i] <= tags[j]);
                    prop_assert_eq!(tags[i].cmp(&tags[j]), tags[j].cmp(&tags[i]).reverse());
                }
            }
        }

        #[test]
        fn number_sort_keys_order_like_tags(
            a in prop::collection::vec(0u64..4, 1..4),
            b in prop::collection::vec(0u64..4, 1..4),
            pa in prop::sample::select(vec!["", "-rc1", "-rc2", "-rc.1", "-beta", "-alpha.1", "-rc10"]),
            pb in prop::sample::select(vec!["", "-rc1", "-rc2", "-rc.1", "-beta", "-alpha.1", "-rc10"]),
        ) {
            let tag = |v: &[u64], pre: &str| {
                parse_name(&format!("m_{}{pre}.pt", VersionTag::number(v))).version.unwrap()
            };
            let (ta, tb) = (tag(&a, pa), tag(&b, pb));
            let key = |t: &VersionTag| match t {
                VersionTag::Number(p, _) => number_sort_key(p, &t.prerelease()),
                VersionTag::Timestamp(..) => unreachable!(),
            };
            let (ka, kb) = (key(&ta), key(&tb));
            if ka != kb {
                prop_assert_eq!(ka.cmp(&kb), ta.cmp(&tb), "{:?} {:?}", ta, tb);
            }
        }

        #[test]
        fn timestamps_order_by_time(a in datetime_strategy(), b in datetime_strategy()) {
            prop_assert_eq!(VersionTag::timestamp(a).cmp(&VersionTag::timestamp(b)), a.cmp(&b));
        }

        #[test]
        fn family_and_version_round_trip(
            family in "[a-z][a-z0-9]{0,6}([_-][a-z][a-z0-9]{0,6}){0,3}",
            sep in "[_-]",
            tag in tag_strategy(),
            ext in "[a-z][a-z0-9]{0,5}".prop_filter("not a compression suffix", |e| {
                !COMPRESSION_SUFFIXES.contains(&e.as_str())
            }),
            gz in any::<bool>(),
        ) {
            let name = format!("{family}{sep}{tag}.{ext}{}", if gz { ".gz" } else { "" });
            let p = parse_name(&name);
            prop_assert_eq!(p, ParsedName { family, version: Some(tag), extension: ext });
        }
    }
}
