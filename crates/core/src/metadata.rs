//! Metrics from training-result JSON (accuracy, loss, epochs, model type, dataset count,
//! training split, other top-level metrics), read as a stream: the large matrices such files
//! carry are skipped without being built, so a 150 MB file costs a few hundred KiB of memory.
//! Gzipped files (`.json.gz`) are read the same way, recognised by their first bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use stowage_store::ErrorKind;

use crate::error::{local_error, Error, Result};

/// Arrays and objects nested deeper than this are refused: no legitimate results file needs
/// it, and it bounds the parser's recursion.
pub const MAX_DEPTH: usize = 128;

/// Top-level keys (outside `metrics`) that are metrics too and land in [`Metrics::other`].
const TOP_LEVEL_METRICS: &[&str] = &[
    "val_loss",
    "val_accuracy",
    "val_acc",
    "mae",
    "mse",
    "rmse",
    "mape",
    "r2",
    "f1",
    "f1_score",
    "precision",
    "recall",
    "auc",
    "roc_auc",
    "test_loss",
    "test_accuracy",
];

/// What a training-results file says about its run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// `accuracy` (top level or in `metrics`).
    pub accuracy: Option<f64>,
    /// `loss` (top level or in `metrics`).
    pub loss: Option<f64>,
    /// `epochs_completed`, else `epochs`, else `parameters.EP` / `parameters.epochs`.
    pub epochs: Option<u64>,
    /// `model_type`.
    pub model_type: Option<String>,
    /// `dataset_count`.
    pub dataset_count: Option<u64>,
    /// `training_split`.
    pub training_split: Option<f64>,
    /// Other numbers in `metrics`, and well-known metric names at the top level.
    pub other: BTreeMap<String, f64>,
}

impl Metrics {
    fn is_empty(&self) -> bool {
        *self == Metrics::default()
    }
}

/// Read the metrics of the training-results JSON (or gzipped JSON) at `path`. `Ok(None)` when
/// it is not a JSON object or has none of the fields; invalid JSON is an error naming the
/// file, line and column.
pub fn extract(path: &Path) -> Result<Option<Metrics>> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let gzipped = reader
        .fill_buf()
        .map_err(|e| io_error(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    if gzipped {
        let gz = flate2::read::MultiGzDecoder::new(reader);
        extract_from(BufReader::with_capacity(256 << 10, gz), path)
    } else {
        extract_from(reader, path)
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::Other
    };
    local_error(kind, path, format!("reading: {e}"), "check the file")
}

fn extract_from<R: BufRead>(reader: R, path: &Path) -> Result<Option<Metrics>> {
    let mut reader = BufReader::with_capacity(64 << 10, DepthGuard::new(reader));
    // Only an object can hold the fields; anything else is not a results file.
    loop {
        let buf = reader.fill_buf().map_err(|e| read_error(path, e))?;
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let skip = if buf.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        };
        if skip == 0 {
            if first != b'{' {
                return Ok(None);
            }
            break;
        }
        reader.consume(skip);
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let found = de
        .deserialize_map(TopVisitor)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| json_error(path, e))?;
    Ok(found.resolve())
}

fn too_deep(e: &std::io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TooDeep>())
        .map(|d| d.offset)
}

fn read_error(path: &Path, e: std::io::Error) -> Error {
    match too_deep(&e) {
        Some(offset) => deep_error(path, offset),
        None => io_error(path, e),
    }
}

fn deep_error(path: &Path, offset: u64) -> Error {
    local_error(
        ErrorKind::Other,
        path,
        format!(
            "JSON nested deeper than {MAX_DEPTH} levels (at byte {offset}); refusing to read it"
        ),
        "check that the file is a complete training-results JSON",
    )
}

fn json_error(path: &Path, e: serde_json::Error) -> Error {
    let depth = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .and_then(too_deep);
    if let Some(offset) = depth {
        return deep_error(path, offset);
    }
    let message = if e.is_io() {
        format!("reading: {e}")
    } else if e.to_string().contains("recursion limit") {
        format!("JSON nested deeper than {MAX_DEPTH} levels ({e}); refusing to read it")
    } else {
        format!("not valid JSON: {e}")
    };
    local_error(
        ErrorKind::Other,
        path,
        message,
        "check that the file is a complete training-results JSON",
    )
}

#[derive(Debug)]
struct TooDeep {
    offset: u64,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nesting deeper than {MAX_DEPTH} levels at byte {}",
            self.offset
        )
    }
}

impl std::error::Error for TooDeep {}

/// Tracks bracket depth as bytes pass (outside strings), because serde_json skips ignored
/// values without its recursion limit: deep nesting is refused wherever it sits.
struct DepthGuard<R> {
    inner: R,
    depth: usize,
    in_string: bool,
    escaped: bool,
    offset: u64,
}

impl<R> DepthGuard<R> {
    fn new(inner: R) -> Self {
        DepthGuard {
            inner,
            depth: 0,
            in_string: false,
            escaped: false,
            offset: 0,
        }
    }
}

impl<R: Read> Read for DepthGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            TooDeep {
                                offset: self.offset + i as u64,
                            },
                        ));
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// What was found, before precedence is applied.
#[derive(Default)]
struct Found {
    metrics: Metrics,
    epochs_completed: Option<u64>,
    epochs: Option<u64>,
    param_epochs: Option<u64>,
}

impl Found {
    fn resolve(mut self) -> Option<Metrics> {
        self.metrics.epochs = self.epochs_completed.or(self.epochs).or(self.param_epochs);
        (!self.metrics.is_empty()).then_some(self.metrics)
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// A finite, whole, non-negative number as a count; anything else is no count.
fn count(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0 && *x < 2f64.powi(64))
        .map(|x| x as u64)
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = Found::default();
        while let Some(key) = map.next_key::<String>()? {
            let m = &mut found.metrics;
            match key.as_str() {
                "accuracy" => set(&mut m.accuracy, map.next_value::<Num>()?.0),
                "loss" => set(&mut m.loss, map.next_value::<Num>()?.0),
                "epochs_completed" => found.epochs_completed = count(map.next_value::<Num>()?.0),
                "epochs" => found.epochs = count(map.next_value::<Num>()?.0),
                "dataset_count" => m.dataset_count = count(map.next_value::<Num>()?.0),
                "training_split" => m.training_split = map.next_value::<Num>()?.0,
                "model_type" => m.model_type = map.next_value::<Text>()?.0,
                "metrics" => map.next_value_seed(MetricsSeed(&mut found))?,
                "parameters" => found.param_epochs = map.next_value::<Params>()?.0,
                k if TOP_LEVEL_METRICS.contains(&k) => {
                    if let Some(v) = map.next_value::<Num>()?.0 {
                        m.other.insert(key, v);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A metric value: a number, a numeric string, or a per-epoch list (its last value). Anything
/// else is skipped and reads as no value.
struct Num(Option<f64>);

impl<'de> de::Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v.is_finite().then_some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(v as f64)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Num, E> {
                Ok(Num(v.trim().parse::<f64>().ok().filter(|x| x.is_finite())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_unit<E>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Num, A::Error> {
                let mut last = None;
                while let Some(Num(v)) = seq.next_element::<Num>()? {
                    last = v.or(last);
                }
                Ok(Num(last))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Num(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string value; anything else is skipped.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The epochs in `parameters`: `EP`, `epochs` or `n_epochs`; other parameters are skipped.
struct Params(Option<u64>);

impl<'de> de::Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut epochs = None;
                while let Some(key) = map.next_key::<String>()? {
                    if matches!(key.as_str(), "EP" | "epochs" | "n_epochs") {
                        set(&mut epochs, count(map.next_value::<Num>()?.0));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Params(epochs))
            }
        }
        // Not an object: skip it whatever it is.
        d.deserialize_any(Either(V))
    }
}

/// Accepts a map through the inner visitor and skips anything else as "not found".
struct Either<V>(V);

impl<'de, V: Visitor<'de, Value = Params>> Visitor<'de> for Either<V> {
    type Value = Params;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Params, A::Error> {
        self.0.visit_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Params(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Params, E> {
        Ok(Params(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Params, E> {
        Ok(Params(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Params, E> {
        Ok(Params(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Params, E> {
        Ok(Params(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Params, E> {
        Ok(Params(None))
    }
    fn visit_unit<E>(self) -> Result<Params, E> {
        Ok(Params(None))
    }
}

/// The `metrics` object: `accuracy` and `loss` to their fields, `epochs` as a candidate, other
/// numbers to `other`.
struct MetricsSeed<'a>(&'a mut Found);

impl<'de> DeserializeSeed<'de> for MetricsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetricsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of metrics")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let found = self.0;
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value::<Num>()?.0;
            let m = &mut found.metrics;
            match key.as_str() {
                "accuracy" | "acc" => set(&mut m.accuracy, v),
                "loss" => set(&mut m.loss, v),
                "epochs" | "epochs_completed" => set(&mut found.epochs, count(v)),
                _ => {
                    if let Some(v) = v {
                        m.other.insert(key, v);
                    }
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use crate::testdata;

    fn write(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Memory is measured in a process of its own: other tests running beside it in this
    /// process would count in its RSS.
    #[test]
    fn large_training_results_stream_in_small_memory() {
        let _heavy = testdata::heavy();
        testdata::large_training_results();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "metadata::tests::large_training_results_in_this_process",
                "--ignored",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    #[ignore = "run by large_training_results_stream_in_small_memory in its own process"]
    fn large_training_results_in_this_process() {
        let path = testdata::large_training_results();
        let before = rss_kib();
        let m = extract(path).unwrap().unwrap();
        let grew = rss_kib().saturating_sub(before);
        assert!(grew < 30 << 10, "RSS grew by {grew} KiB");
        assert_eq!(m.accuracy, Some(0.9512));
        assert_eq!(m.loss, Some(0.0231));
        assert_eq!(
            m.epochs,
            Some(47),
            "epochs_completed wins over parameters.EP"
        );
        assert_eq!(m.model_type.as_deref(), Some("Dense"));
        assert_eq!(m.dataset_count, Some(testdata::TRAINING_ROWS as u64));
        assert_eq!(m.training_split, Some(0.8));
        assert_eq!(m.other.get("val_loss"), Some(&0.0305));
        assert_eq!(m.other.get("r2"), Some(&0.9378));
    }

    #[test]
    fn seed_shape_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let json = br#"{"model_type":"Dense","parameters":{"EP":30,"BS":32},
            "metrics":{"accuracy":0.95,"loss":0.023,"val_loss":[0.5,0.2,0.1],"note":"x"},
            "training_split":0.8,"dataset_count":92820,"train_data":{"X":[[1,2]],"y":[[3]]}}"#;
        let want = Metrics {
            accuracy: Some(0.95),
            loss: Some(0.023),
            epochs: Some(30),
            model_type: Some("Dense".into()),
            dataset_count: Some(92820),
            training_split: Some(0.8),
            other: [("val_loss".to_string(), 0.1)].into_iter().collect(),
        };
        let p = write(dir.path(), "r.json", json);
        assert_eq!(extract(&p).unwrap(), Some(want.clone()));
        // Gzipped, recognised by content whatever the name.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(json).unwrap();
        let p = write(dir.path(), "r.json.gz", &e.finish().unwrap());
        assert_eq!(extract(&p).unwrap(), Some(want));
    }

    #[test]
    fn not_results_is_none() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [
            ("a.json", &b"[1,2,3]"[..]),
            ("b.json", b"{\"name\":\"x\",\"rows\":[[1]]}"),
            ("c.json", b"\"text\""),
            ("d.json", b""),
        ] {
            let p = write(dir.path(), name, body);
            assert_eq!(extract(&p).unwrap(), None, "{name}");
        }
    }

    #[test]
    fn invalid_json_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "broken.json",
            b"{\"accuracy\": 0.9,\n \"loss\": }",
        );
        let msg = extract(&p).unwrap_err().to_string();
        assert!(msg.contains("broken.json"), "{msg}");
        assert!(msg.contains("line 2 column"), "{msg}");
        let p = write(dir.path(), "cut.json", b"{\"accuracy\": 0.9, \"x\": [1,2");
        assert!(extract(&p).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for (name, body) in [
            (
                "ignored.json",
                format!("{{\"blob\":{},\"loss\":1}}", deep(200)),
            ),
            (
                "metric.json",
                format!("{{\"metrics\":{{\"loss\":{}}}}}", deep(200)),
            ),
            ("huge.json", format!("{{\"blob\":{}}}", deep(100_000))),
        ] {
            let p = write(dir.path(), name, body.as_bytes());
            let msg = extract(&p).unwrap_err().to_string();
            assert!(msg.contains("deeper than 128"), "{msg}");
            assert!(msg.contains(name), "{msg}");
        }
        // 100 levels is fine; brackets inside strings do not count.
        let ok = format!(
            "{{\"blob\":{},\"s\":\"{}\",\"loss\":1}}",
            deep(100),
            "[".repeat(500)
        );
        let p = write(dir.path(), "ok.json", ok.as_bytes());
        assert_eq!(extract(&p).unwrap().unwrap().loss, Some(1.0));
    }

    #[test]
    fn odd_numbers_do_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "big.json",
            br#"{"dataset_count": 1e30, "epochs": -3, "accuracy": "0.9", "loss": 123456789012345678901234567890,
                "training_split": null, "metrics": {"f1": 1e-320, "ignored": 99999999999999999999999999e99}}"#,
        );
        let m = extract(&p).unwrap().unwrap();
        assert_eq!((m.dataset_count, m.epochs), (None, None));
        assert_eq!(m.accuracy, Some(0.9));
        assert!(m.loss.unwrap() > 1e29);
        // Beyond f64 range is an error naming the place, not a panic.
        let p = write(dir.path(), "inf.json", b"{\"loss\": 1e400}");
        let msg = extract(&p).unwrap_err().to_string();
        assert!(msg.contains("inf.json") && msg.contains("line 1"), "{msg}");
    }
}
