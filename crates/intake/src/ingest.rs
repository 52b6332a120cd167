//! The group-commit queue between report handlers and the store.
//!
//! A handler enqueues its report with a oneshot and waits. One writer task takes everything
//! queued (up to a batch limit), writes it in one transaction, and only then answers every
//! waiting handler — with whether its report counted: the transaction also decides that,
//! against the store's record of who counted when, which every node shares
//! ([`ReportStore::insert_reports_once`]), so deciding costs no round trip of its own. A
//! failed commit answers every handler of the batch with the error (a 503): nothing is
//! acknowledged before it is committed. Many reports share one commit (one fsync), so durable ingestion runs at
//! close to the speed of the HTTP layer. Closing the queue lets the writer drain what is
//! already in it and stop: shutdown loses nothing that was acknowledged, and nothing queued
//! goes unanswered.

use crate::generations::Generations;
use crate::metrics::IntakeMetrics;
use downbeat_store::{CountingBatch, Hash16, NewReport, ReportStore, StoreError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

/// Most reports written in one transaction.
pub const MAX_BATCH: usize = 2048;
/// Reports that may wait for a commit before new ones are refused with 503.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Whether the committed report counted, or why it was not committed.
type Reply = oneshot::Sender<Result<bool, Arc<StoreError>>>;

struct Job {
    report: NewReport,
    /// The same client under yesterday's salt, near midnight.
    earlier: Option<Hash16>,
    reply: Reply,
}

/// Why a report could not be queued or committed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the server is busy; retry shortly")]
    Full,
    #[error("the server is shutting down")]
    Closed,
    #[error("{0}")]
    Store(Arc<StoreError>),
}

/// The handlers' end of the queue.
pub struct Ingest {
    tx: mpsc::Sender<Job>,
    close: Arc<Notify>,
    metrics: IntakeMetrics,
}

/// Starts the writer task; returns the queue and the writer's handle.
pub fn start(
    store: Arc<dyn ReportStore>,
    metrics: IntakeMetrics,
    generations: Arc<Generations>,
    dedupe_window_ms: i64,
) -> (Ingest, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let close = Arc::new(Notify::new());
    let ingest = Ingest {
        tx,
        close: close.clone(),
        metrics: metrics.clone(),
    };
    let writer = tokio::spawn(writer(
        rx,
        store,
        metrics,
        close,
        generations,
        dedupe_window_ms,
    ));
    (ingest, writer)
}

impl Ingest {
    /// Queues a report and waits until it is committed; whether it counted (a report asking
    /// to count, `counted`, may turn out a duplicate of one another node took). `earlier`
    /// is the same client under yesterday's salt, near midnight.
    pub async fn submit(
        &self,
        report: NewReport,
        earlier: Option<Hash16>,
    ) -> Result<bool, IngestError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .try_send(Job {
                report,
                earlier,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IngestError::Full,
                mpsc::error::TrySendError::Closed(_) => IngestError::Closed,
            })?;
        self.metrics.ingest_queue_depth.set(self.depth() as i64);
        match done.await {
            Ok(Ok(counted)) => Ok(counted),
            Ok(Err(e)) => Err(IngestError::Store(e)),
            // The writer always answers; a dropped reply means it died.
            Err(_) => Err(IngestError::Closed),
        }
    }

    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Refuses new reports; the writer drains what is queued, then stops.
    pub fn close(&self) {
        self.close.notify_one();
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn ReportStore>,
    metrics: IntakeMetrics,
    close: Arc<Notify>,
    generations: Arc<Generations>,
    dedupe_window_ms: i64,
) {
    let mut batch = CountingBatch {
        reports: Vec::with_capacity(MAX_BATCH),
        earlier: Vec::with_capacity(MAX_BATCH),
        window_ms: dedupe_window_ms,
    };
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut closed = false;
    loop {
        let first = if closed {
            // Closed: what is still buffered comes out, then None.
            rx.recv().await
        } else {
            tokio::select! {
                job = rx.recv() => job,
                () = close.notified() => {
                    rx.close();
                    closed = true;
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        batch.push(first.report, first.earlier);
        replies.push(first.reply);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    batch.push(job.report, job.earlier);
                    replies.push(job.reply);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let span = tracing::info_span!("group commit", reports = batch.len());
        let (done, result) = store
            .insert_reports_once(std::mem::take(&mut batch))
            .instrument(span.clone())
            .await;
        batch = done;
        let result = result.map_err(Arc::new);
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.commit_batch_size.observe(batch.len() as f64);
        if let Err(e) = &result {
            metrics.commit_failures.inc();
            span.in_scope(
                || tracing::error!(error = %e, "group commit failed; reports refused with 503"),
            );
        }
        if result.is_ok() {
            // Services are few; bump each service of the batch once.
            let mut last: Option<&str> = None;
            for r in batch.reports.iter().filter(|r| r.counted) {
                if last != Some(&*r.service) {
                    generations.bump(&r.service);
                    last = Some(&r.service);
                }
            }
        }
        for (reply, r) in replies.drain(..).zip(&batch.reports) {
            // A handler whose client went away no longer listens; its report is stored anyway.
            let _ = reply.send(result.clone().map(|()| r.counted));
        }
        // Reuse the batch's allocation for the next one.
        batch.clear();
        batch.window_ms = dedupe_window_ms;
        metrics.ingest_queue_depth.set(rx.len() as i64);
    }
}
