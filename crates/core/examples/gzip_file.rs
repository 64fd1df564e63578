//! Gzip one file through Stowage's streaming encoder (`compress::gzip_reader`), as uploads do,
//! and report size, ratio and throughput: `gzip_file IN OUT`, or `gzip_file --generate OUT`
//! to write the ≈150 MB synthetic training-results JSON used by `scripts/bench-compress`.

use std::time::Instant;

fn backend() -> &'static str {
    if cfg!(feature = "zlib-ng") {
        "zlib-ng"
    } else if cfg!(feature = "zlib-rs") {
        "zlib-rs"
    } else {
        "miniz_oxide"
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, out] if flag == "--generate" => {
            let n = stowage_core::testdata::write_training_results_file(
                out.as_ref(),
                stowage_core::testdata::TRAINING_ROWS,
            )?;
            println!("{n}");
        }
        // Plain flate2 at another level, for tuning the default.
        [flag, level, input, out] if flag == "--level" => {
            use std::io::Write;
            let size = std::fs::metadata(input)?.len();
            let start = Instant::now();
            let mut enc = flate2::write::GzEncoder::new(
                std::io::BufWriter::new(std::fs::File::create(out)?),
                flate2::Compression::new(level.parse()?),
            );
            std::io::copy(&mut std::fs::File::open(input)?, &mut enc)?;
            enc.finish()?.flush()?;
            let stored = std::fs::metadata(out)?.len();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{{\"backend\":\"{}\",\"level\":{level},\"stored\":{stored},\"ratio\":{:.4},\"mb_per_s\":{:.1}}}",
                backend(),
                stored as f64 / size as f64,
                size as f64 / 1e6 / secs
            );
        }
        [input, out] => {
            let size = std::fs::metadata(input)?.len();
            let start = Instant::now();
            let file = tokio::fs::File::open(input).await?;
            let mut reader = stowage_core::compress::gzip_reader(file);
            let mut writer = tokio::fs::File::create(out).await?;
            let stored = tokio::io::copy(&mut reader, &mut writer).await?;
            writer.sync_all().await?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{{\"backend\":\"{}\",\"original\":{size},\"stored\":{stored},\"ratio\":{:.4},\
                 \"seconds\":{secs:.3},\"mb_per_s\":{:.1}}}",
                backend(),
                stored as f64 / size as f64,
                size as f64 / 1e6 / secs
            );
        }
        _ => {
            eprintln!("usage: gzip_file IN OUT | gzip_file --generate OUT");
            std::process::exit(2);
        }
    }
    Ok(())
}
