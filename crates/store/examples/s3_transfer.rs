//! Upload then download one file through the S3 backend, printing throughput: a quick way to
//! tune part size and concurrency against a server. Usage:
//! `s3_transfer ENDPOINT BUCKET FILE [PART_MIB] [CONCURRENCY]` (credentials from AWS_* env).

use std::time::Instant;

use futures::StreamExt;
use stowage_store::s3::{S3Config, S3Store};
use stowage_store::{ObjectPath, PutOptions, PutSource, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, bucket, file, rest @ ..] = args.as_slice() else {
        eprintln!("usage: s3_transfer ENDPOINT BUCKET FILE [PART_MIB] [CONCURRENCY]");
        std::process::exit(2);
    };
    let part: u64 = rest.first().map_or(Ok(16), |s| s.parse())?;
    let concurrency: usize = rest.get(1).map_or(Ok(4), |s| s.parse())?;
    let store = S3Store::new(S3Config {
        endpoint: Some(endpoint.clone()),
        force_path_style: true,
        part_size: part << 20,
        concurrency,
        ..Default::default()
    })
    .await?;
    let path = ObjectPath::new(bucket.as_str(), &format!("s3_transfer/{}", uuid_like()))?;
    let start = Instant::now();
    let res = store
        .put(&path, PutSource::File(file.into()), &PutOptions::default())
        .await?;
    let up = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut body = store.get(&path, None).await?.body;
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        n += chunk?.len() as u64;
    }
    let down = start.elapsed().as_secs_f64();
    let mb = res.size as f64 / 1e6;
    println!(
        "part {part} MiB x{concurrency}: up {up:.2}s ({:.0} MB/s), down {down:.2}s ({:.0} MB/s), {n} bytes",
        mb / up,
        mb / down
    );
    store.delete(&path).await?;
    Ok(())
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
