//! `supabase-contract --addr 127.0.0.1:54321 --dir DIR --jwt-secret S`: run the contract server by hand.

use std::path::PathBuf;

const USAGE: &str =
    "usage: supabase-contract [--addr HOST:PORT] [--strict] --dir DIR --jwt-secret SECRET";

type Args = (
    stowage_supabase_contract::ServerConfig,
    stowage_supabase_contract::Mode,
);

fn parse_args() -> Result<Args, String> {
    let mut addr = "127.0.0.1:54321".to_string();
    let mut dir = None;
    let mut secret = None;
    let mut mode = stowage_supabase_contract::Mode::Lenient;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--jwt-secret" => secret = Some(value()?),
            "--strict" => mode = stowage_supabase_contract::Mode::Strict,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let config = stowage_supabase_contract::ServerConfig {
        data_dir: dir.ok_or(format!("--dir is required\n{USAGE}"))?,
        jwt_secret: secret.ok_or(format!("--jwt-secret is required\n{USAGE}"))?,
        addr: addr
            .parse()
            .map_err(|e| format!("bad --addr {addr}: {e}"))?,
    };
    Ok((config, mode))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, mode) = match parse_args() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let server = stowage_supabase_contract::start_with_mode(config, mode).await?;
    println!("url: {}", server.url);
    println!("service_role_key: {}", server.service_role_key);
    println!("anon_key: {}", server.anon_key);
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
