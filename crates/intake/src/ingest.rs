//! The group-commit queue between report handlers and the store.
//!
//! A handler enqueues its report with a oneshot and waits. One writer task takes everything
//! queued (up to a batch limit), writes it in one transaction, and only then answers every
//! waiting handler. Many reports share one commit (one fsync), so durable ingestion runs at
//! close to the speed of the HTTP layer. Closing the queue lets the writer drain what is
//! already in it and stop: shutdown loses nothing that was acknowledged, and nothing queued
//! goes unanswered.

use crate::generations::Generations;
use crate::metrics::IntakeMetrics;
use downbeat_store::{NewReport, ReportStore, StoreError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

/// Most reports written in one transaction.
pub const MAX_BATCH: usize = 2048;
/// Reports that may wait for a commit before new ones are refused with 503.
pub const QUEUE_CAPACITY: usize = 65_536;

type Reply = oneshot::Sender<Result<(), Arc<StoreError>>>;

struct Job {
    report: NewReport,
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
) -> (Ingest, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let close = Arc::new(Notify::new());
    let ingest = Ingest {
        tx,
        close: close.clone(),
        metrics: metrics.clone(),
    };
    let writer = tokio::spawn(writer(rx, store, metrics, close, generations));
    (ingest, writer)
}

impl Ingest {
    /// Queues a report and waits until it is committed.
    pub async fn submit(&self, report: NewReport) -> Result<(), IngestError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .try_send(Job { report, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IngestError::Full,
                mpsc::error::TrySendError::Closed(_) => IngestError::Closed,
            })?;
        self.metrics.ingest_queue_depth.set(self.depth() as i64);
        match done.await {
            Ok(Ok(())) => Ok(()),
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
) {
    let mut reports: Vec<NewReport> = Vec::with_capacity(MAX_BATCH);
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
        reports.push(first.report);
        replies.push(first.reply);
        while reports.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    reports.push(job.report);
                    replies.push(job.reply);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let batch = std::mem::take(&mut reports);
        let span = tracing::info_span!("group commit", reports = batch.len());
        let (batch, result) = store.insert_reports(batch).instrument(span.clone()).await;
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
            for r in batch.iter().filter(|r| r.counted) {
                if last != Some(&*r.service) {
                    generations.bump(&r.service);
                    last = Some(&r.service);
                }
            }
        }
        for reply in replies.drain(..) {
            // A handler whose client went away no longer listens; its report is stored anyway.
            let _ = reply.send(result.clone());
        }
        // Reuse the batch's allocation for the next one.
        reports = batch;
        reports.clear();
        metrics.ingest_queue_depth.set(rx.len() as i64);
    }
}
