//! Where the app layer's operations run. Its futures hold the catalog (a SQLite connection,
//! not shareable across threads) across awaits, as the CLI's do: like the CLI, which drives
//! each operation on its main thread, the app drives them on one thread of its own, while the
//! work they spawn (transfers, hashing) runs on the runtime's worker threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use stowage_core::app::App;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A handle to the operations thread.
pub struct Local {
    app: Arc<App>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Local {
    /// Start the operations thread for `app`.
    pub fn start(app: Arc<App>) -> std::io::Result<Local> {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("stowage-worker")
            .build()?;
        std::thread::Builder::new()
            .name("stowage-ops".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                runtime.block_on(local.run_until(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::task::spawn_local(job());
                    }
                }));
            })?;
        Ok(Local { app, jobs })
    }

    /// Run `op` on the operations thread; its result.
    pub async fn run<T, F, Fut>(&self, op: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(Arc<App>) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let app = self.app.clone();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(op(app).await);
            })
        });
        self.jobs
            .send(job)
            .unwrap_or_else(|_| panic!("the operations thread is gone"));
        rx.await.expect("the operation ran to its end")
    }
}
