//! A Supabase Storage contract server: the Storage REST API and TUS uploads over a local
//! directory, answering as supabase/storage v1.26.5 did in our recorded transcripts.
//!
//! Served both at the root (`/bucket`, `/object/...`, `/upload/resumable`) and under
//! `/storage/v1` (as a hosted project exposes it).

// Handlers return `Result<_, Response>`: the error *is* the HTTP answer, built once per request,
// so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod api;
mod jwt;
mod rules;
mod store;
mod tus;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

/// Where and how to run the server.
pub struct ServerConfig {
    /// Directory for blobs and the metadata index (created if missing).
    pub data_dir: PathBuf,
    /// HS256 secret that API keys and signed-URL tokens are signed with.
    pub jwt_secret: String,
    /// Address to bind; port 0 picks a free port.
    pub addr: SocketAddr,
}

/// How closely the server imitates the recorded server where that server is defective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The recorded defects are answered politely: `bytes=-N` is served, an unsatisfiable
    /// range gets a 416, a 304-character key segment is stored, deleting a key that ends in
    /// `/` leaves nothing behind.
    #[default]
    Lenient,
    /// Every recorded quirk is reproduced, so a client's workarounds are exercised: HTTP 500
    /// for `bytes=-N`, for a leading slash (with the SQL text) and for a key segment over 255
    /// bytes; a 206 for an unsatisfiable range that promises bytes and then closes the
    /// connection; the phantom folder entry left by deleting a key that ends in `/` (listed,
    /// and blocking the bucket's deletion until a child is uploaded and deleted under it).
    Strict,
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`.
    pub url: String,
    /// A long-lived `service_role` JWT (bypasses row-level security).
    pub service_role_key: String,
    /// A long-lived `anon` JWT.
    pub anon_key: String,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    flusher: tokio::task::JoinHandle<()>,
    shared: Arc<store::Shared>,
}

impl std::fmt::Debug for RunningServer {
    // Keys stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Stops accepting requests, lets in-flight ones finish (up to 5 s) and persists the index.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        let _ = self.flusher.await;
        let shared = self.shared;
        let _ = tokio::task::spawn_blocking(move || shared.flush()).await;
    }
}

/// Mints an HS256 JWT with a `role` claim, like Supabase's anon and service-role keys.
pub fn mint_jwt(secret: &str, role: &str, exp_unix: i64) -> String {
    let iat = store::now_unix();
    jwt::sign(
        secret.as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"iss": "stowage-supabase-contract", "role": role, "iat": iat, "exp": exp_unix}),
    )
}

/// Binds, spawns the server on the current tokio runtime and returns its URL and keys.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    start_with_mode(config, Mode::Lenient).await
}

/// [`start`] in the given [`Mode`].
pub async fn start_with_mode(config: ServerConfig, mode: Mode) -> anyhow::Result<RunningServer> {
    let shared = Arc::new(
        store::Shared::open(&config.data_dir, &config.jwt_secret, mode == Mode::Strict)
            .with_context(|| format!("opening data dir {}", config.data_dir.display()))?,
    );
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let mut local = listener.local_addr()?;
    // A wildcard bind is reachable on loopback; hand clients an address they can dial.
    if local.ip().is_unspecified() {
        local.set_ip(if local.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{local}");

    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let router = axum::Router::new()
        .fallback(api::dispatch)
        .with_state(shared.clone());
    let mut rx = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!("supabase contract server stopped: {e}");
        }
    });
    let flusher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shared.dirty_notified() => {}
                    _ = stop_rx.wait_for(|s| *s) => return,
                }
                // Batch a burst of mutations into one write.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let s = shared.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.flush()).await {
                    tracing::warn!("persisting the index failed: {e}");
                }
            }
        })
    };
    let far = store::now_unix() + 10 * 365 * 24 * 3600;
    tracing::info!("supabase contract server listening on {url}");
    Ok(RunningServer {
        url,
        service_role_key: mint_jwt(&config.jwt_secret, "service_role", far),
        anon_key: mint_jwt(&config.jwt_secret, "anon", far),
        stop,
        server,
        flusher,
        shared,
    })
}
