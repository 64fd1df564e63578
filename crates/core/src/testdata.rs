//! Synthetic data for tests and benchmarks: training-results JSON shaped like the files ML
//! teams store (model type, parameters, metrics, and large `train_data` / `val_data` /
//! `test_data` matrices), generated deterministically and streamed, never held in memory.

use std::io::{self, Write};
use std::path::Path;

/// Rows of `train_data` in the large file teams reported (≈150 MB of JSON in all).
pub const TRAINING_ROWS: usize = 92_820;

/// Lagged values per row: a sliding window over one series, as time-series models use.
const LAGS: usize = 48;
/// Per-row features that do not repeat between rows (calendar encodings, weather, noise).
const FRESH: usize = 24;

/// A small deterministic generator (SplitMix64), so the data needs no extra crate.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A min-max scaled load curve: daily and weekly cycles plus noise, printed later at full
/// `f64` precision as Python's `json.dumps` does.
fn series_value(t: usize, rng: &mut Rng) -> f64 {
    let t = t as f64;
    let day = (t * std::f64::consts::TAU / 288.0).sin();
    let week = (t * std::f64::consts::TAU / 2016.0).sin();
    (0.5 + 0.3 * day + 0.1 * week + 0.05 * (rng.unit() - 0.5)).clamp(0.0, 1.0)
}

/// Write a training-results JSON with `rows` training rows (plus validation and test sets of
/// a tenth each) to `out`; returns the bytes written. Metrics come last, after the matrices,
/// so a reader has to stream through everything to find them.
pub fn write_training_results<W: Write>(out: W, rows: usize) -> io::Result<u64> {
    let mut w = Counting { inner: out, n: 0 };
    let mut rng = Rng(0x5709_a6e5);
    let extra = rows / 10;
    let total = rows + 2 * extra;
    // One series long enough for every window; computed once per row as the window slides.
    let series: Vec<f64> = (0..total + LAGS + 1)
        .map(|t| series_value(t, &mut rng))
        .collect();
    write!(
        w,
        "{{\"model_type\":\"Dense\",\"parameters\":{{\"EP\":50,\"BS\":32,\"LR\":0.001,\
         \"optimizer\":\"adam\",\"layers\":[128,64,32],\"activation\":\"relu\"}},\
         \"training_split\":0.8,\"dataset_count\":{rows},"
    )?;
    let names: Vec<String> = (0..LAGS)
        .map(|i| format!("\"load_lag_{}\"", i + 1))
        .chain((0..FRESH).map(|i| format!("\"feature_{i}\"")))
        .collect();
    write!(
        w,
        "\"input_features\":[{}],\"output_features\":[\"load\"],",
        names.join(",")
    )?;
    // Pickled, base64-encoded model and scalers: incompressible-looking text.
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut blob = |w: &mut Counting<W>, len: usize| -> io::Result<()> {
        let text: Vec<u8> = (0..len)
            .map(|_| B64[(rng.next_u64() % 64) as usize])
            .collect();
        w.write_all(b"\"")?;
        w.write_all(&text)?;
        w.write_all(b"\"")
    };
    w.write_all(b"\"scalers\":{\"input\":")?;
    blob(&mut w, 4 << 10)?;
    w.write_all(b",\"output\":")?;
    blob(&mut w, 1 << 10)?;
    w.write_all(b"},\"trained_model\":{\"format\":\"keras-pickle-base64\",\"data\":")?;
    blob(&mut w, 256 << 10)?;
    w.write_all(b"},")?;
    let mut fresh = Rng(0xfea7_u64);
    let mut start = 0;
    for (name, n) in [
        ("train_data", rows),
        ("val_data", extra),
        ("test_data", extra),
    ] {
        write!(w, "\"{name}\":{{\"X\":[")?;
        for r in 0..n {
            if r > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"[")?;
            let t = start + r;
            for (i, v) in series[t..t + LAGS].iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write!(w, "{v}")?;
            }
            for _ in 0..FRESH {
                write!(w, ",{}", fresh.unit())?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(b"],\"y\":[")?;
        for r in 0..n {
            if r > 0 {
                w.write_all(b",")?;
            }
            write!(w, "[{}]", series[start + r + LAGS])?;
        }
        w.write_all(b"]},")?;
        start += n;
    }
    w.write_all(
        b"\"metrics\":{\"accuracy\":0.9512,\"loss\":0.0231,\"val_loss\":0.0305,\
          \"mae\":0.1124,\"r2\":0.9378},\"epochs_completed\":47,\"status\":\"completed\"}\n",
    )?;
    w.flush()?;
    Ok(w.n)
}

/// Write the training-results JSON to `path` (created or replaced); returns its size.
pub fn write_training_results_file(path: &Path, rows: usize) -> io::Result<u64> {
    let file = std::fs::File::create(path)?;
    write_training_results(io::BufWriter::with_capacity(1 << 20, file), rows)
}

struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The full-size (≈150 MB) training-results file, generated once and reused by later test
/// runs (it is deterministic); written under a temporary name and renamed, so concurrent test
/// processes never read a partial one.
#[cfg(test)]
pub(crate) fn large_training_results() -> &'static Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("stowage-training-results-{TRAINING_ROWS}-v1.json"));
        if !path.is_file() {
            let part = path.with_extension(format!("{}.part", std::process::id()));
            write_training_results_file(&part, TRAINING_ROWS).expect("generate test data");
            std::fs::rename(&part, &path).expect("move test data into place");
        }
        path
    })
}

/// Serialises the tests that stream the large file: two cores, and the memory test must not
/// see another test's buffers.
#[cfg(test)]
pub(crate) fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
