//! The on-disk queue of result batches: one JSON file per batch, named by a sequence number,
//! written to a temporary name, synced and renamed, so a batch is either wholly there or not
//! at all — even after `kill -9` or a power cut. Files are read oldest first and deleted only
//! after the server acknowledged them. When the buffer is full (the server has been
//! unreachable for a long time), the oldest batches are dropped, with a warning: stale
//! results matter least.

use crate::protocol::PushedResult;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SUFFIX: &str = ".json";

/// A directory of pending batches.
pub struct Buffer {
    dir: PathBuf,
    max_batches: usize,
    next: Mutex<u64>,
}

/// Batches read from the buffer, oldest first, to be removed once delivered.
pub struct Pending {
    pub batches: Vec<Batch>,
}

/// One batch: its file and its results.
pub struct Batch {
    pub path: PathBuf,
    pub results: Vec<PushedResult>,
}

impl Pending {
    /// The batches' files.
    pub fn files(&self) -> Vec<PathBuf> {
        self.batches.iter().map(|b| b.path.clone()).collect()
    }

    /// How many results the batches hold.
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.results.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Every result, oldest batch first.
    pub fn results(&self) -> impl Iterator<Item = &PushedResult> {
        self.batches.iter().flat_map(|b| &b.results)
    }
}

impl Buffer {
    /// Opens (creating) the buffer in `dir`; keeps at most `max_batches` batches.
    pub fn open(dir: &Path, max_batches: usize) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut next = 0;
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A batch whose write never finished: it was never counted as buffered.
                let _ = fs::remove_file(dir.join(&*name));
            } else if let Some(n) = seq_of(&name) {
                next = next.max(n + 1);
            }
        }
        Ok(Buffer {
            dir: dir.to_owned(),
            max_batches: max_batches.max(1),
            next: Mutex::new(next),
        })
    }

    /// The batches waiting, oldest first.
    fn batches(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut v: Vec<(u64, PathBuf)> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                seq_of(&name.to_string_lossy()).map(|n| (n, e.path()))
            })
            .collect();
        v.sort_unstable_by_key(|(n, _)| *n);
        Ok(v)
    }

    /// How many batches wait.
    pub fn len(&self) -> usize {
        self.batches().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a batch durably; drops the oldest batches beyond the limit.
    pub fn append(&self, results: &[PushedResult]) -> io::Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(results).map_err(io::Error::other)?;
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("{:020}{SUFFIX}", *next);
        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(&name))?;
        sync_dir(&self.dir);
        *next += 1;
        drop(next);
        let batches = self.batches()?;
        if batches.len() > self.max_batches {
            let excess = batches.len() - self.max_batches;
            tracing::warn!(
                dropped = excess,
                "result buffer full; dropping the oldest undelivered batches"
            );
            for (_, p) in batches.into_iter().take(excess) {
                let _ = fs::remove_file(p);
            }
        }
        Ok(())
    }

    /// The oldest batches, up to about `max_results` results (at least one batch). A batch
    /// that cannot be read is set aside (renamed `*.bad`) rather than blocking the queue.
    pub fn oldest(&self, max_results: usize) -> io::Result<Pending> {
        let mut pending = Pending {
            batches: Vec::new(),
        };
        for (_, path) in self.batches()? {
            let parsed = fs::read(&path).and_then(|b| {
                serde_json::from_slice::<Vec<PushedResult>>(&b).map_err(io::Error::other)
            });
            match parsed {
                Ok(results) => {
                    if !pending.is_empty() && pending.len() + results.len() > max_results {
                        break;
                    }
                    pending.batches.push(Batch { path, results });
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable buffered batch set aside");
                    let _ = fs::rename(&path, path.with_extension("bad"));
                }
            }
        }
        Ok(pending)
    }

    /// Deletes delivered batches.
    pub fn remove(&self, files: &[PathBuf]) -> io::Result<()> {
        for f in files {
            match fs::remove_file(f) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.dir);
        Ok(())
    }
}

fn seq_of(name: &str) -> Option<u64> {
    name.strip_suffix(SUFFIX)?.parse().ok()
}

/// Makes renames and deletions durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_probe::ProbeResult;

    fn result(monitor: &str) -> PushedResult {
        // Built through JSON: the constructor is the probe crate's own.
        let r: ProbeResult = serde_json::from_value(serde_json::json!({
            "kind": "tcp", "started_at": "2026-11-22T10:00:00Z", "outcome": "up",
            "timings": {"total_ms": 1.5}
        }))
        .unwrap();
        PushedResult {
            monitor: monitor.into(),
            reliable: true,
            result: r,
        }
    }

    #[test]
    fn batches_survive_reopening_and_leave_only_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let b = Buffer::open(dir.path(), 100).unwrap();
        b.append(&[result("a"), result("b")]).unwrap();
        b.append(&[result("c")]).unwrap();
        std::fs::write(dir.path().join("00000000000000000009.json.tmp"), b"[{").unwrap();
        drop(b);
        let b = Buffer::open(dir.path(), 100).unwrap();
        assert_eq!(b.len(), 2);
        let p = b.oldest(2).unwrap();
        let ids: Vec<_> = p.results().map(|r| r.monitor.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "b"],
            "oldest first, whole batches within the limit"
        );
        b.remove(&p.files()).unwrap();
        b.append(&[result("d")]).unwrap();
        let ids: Vec<_> = b
            .oldest(100)
            .unwrap()
            .results()
            .map(|r| r.monitor.clone())
            .collect();
        assert_eq!(ids, ["c", "d"], "new batches go after old ones");
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_a_bad_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let b = Buffer::open(dir.path(), 2).unwrap();
        for m in ["a", "b", "c"] {
            b.append(&[result(m)]).unwrap();
        }
        let ids: Vec<_> = b
            .oldest(100)
            .unwrap()
            .results()
            .map(|r| r.monitor.clone())
            .collect();
        assert_eq!(ids, ["b", "c"]);
        std::fs::write(dir.path().join("00000000000000000000.json"), b"not json").unwrap();
        assert_eq!(b.oldest(100).unwrap().len(), 2);
        assert!(dir.path().join("00000000000000000000.bad").exists());
    }
}
