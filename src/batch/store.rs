//! The batch output directory: one JSON file per article under `articles/`, run-level
//! files beside it, and a lock so two runs never write the same directory.
//!
//! Every file is written whole or not at all (temp file, fsync, rename, fsync of the
//! directory), so a run killed at any instant leaves only complete files; a complete
//! per-article file with status "done" and the current work key is what makes an
//! article count as done on the next run.

use crate::error::{Error, Result};
use crate::record::BatchRecord;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LOCK: &str = ".anuvad.lock";
const TMP: &str = ".tmp";
pub const ARTICLES: &str = "articles";

pub struct OutDir {
    root: PathBuf,
    /// Held (flock) for the life of the run; the OS releases it if the process dies,
    /// which is what makes a lock left by a killed run stale and safe to take over.
    _lock: File,
    /// What the lock file said when we took it over from a process that is gone.
    pub stale_lock: Option<String>,
}

impl OutDir {
    /// Create `root` if needed and lock it; fails with `Error::Locked` naming the holder
    /// when another live run has it.
    pub fn open(root: &Path) -> Result<OutDir> {
        // Everything here creates or writes: a failure is a write error.
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Write { path, source }
        };
        std::fs::create_dir_all(root.join(ARTICLES)).map_err(io(root))?;
        std::fs::create_dir_all(root.join(TMP)).map_err(io(root))?;
        let lock_path = root.join(LOCK);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let previous = take_lock(&lock, root, &lock_path)?;
        let holder = format!(
            "pid {} on {}, started {}",
            std::process::id(),
            hostname(),
            crate::record::now_rfc3339()
        );
        lock.set_len(0)
            .and_then(|_| lock.rewind())
            .and_then(|_| lock.write_all(holder.as_bytes()))
            .and_then(|_| lock.sync_all())
            .map_err(io(&lock_path))?;
        // Temp files of a run that was killed mid-write: never renamed, so never
        // counted; remove them now that the directory is ours.
        if let Ok(entries) = std::fs::read_dir(root.join(TMP)) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(OutDir {
            root: root.to_path_buf(),
            _lock: lock,
            stale_lock: (!previous.is_empty()).then_some(previous),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the record of article `id` lives.
    pub fn article_path(&self, id: &str) -> PathBuf {
        self.root.join(ARTICLES).join(file_name_for(id))
    }

    /// The stored record of `id`, if there is a readable one (a record of another
    /// schema does not read, and its article is done again).
    pub fn read_record(&self, id: &str) -> Option<BatchRecord> {
        let bytes = std::fs::read(self.article_path(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn write_record(&self, record: &BatchRecord) -> Result<()> {
        let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
        text.push('\n');
        self.write(&self.article_path(&record.id), text.as_bytes())
    }

    /// Write `bytes` to `path` (inside the directory) atomically.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .root
            .join(TMP)
            .join(format!("{name}.{}.tmp", std::process::id()));
        atomic_write(&tmp, path, bytes).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Write `bytes` to `tmp`, flush them to disk, then rename over `dest` and flush the
/// directory entry: after a crash `dest` is either the old file or the new one.
fn atomic_write(tmp: &Path, dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(tmp, dest)?;
    if let Some(dir) = dest.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// How long `open` waits for a lock whose holder is gone: the kernel releases a killed
/// process's lock only once its memory is torn down (measured: 2-150 ms after SIGKILL,
/// longer for a big model), and supervisors restart at once.
const GONE_HOLDER_WAIT: Duration = Duration::from_secs(10);
/// How long a live holder is given to finish before a second run gives up with exit 8.
const LIVE_HOLDER_WAIT: Duration = Duration::from_secs(2);

/// Take the flock on `lock`, retrying while its holder is gone or finishing; returns
/// what the file said before (the holder of a run that was killed, or empty).
fn take_lock(lock: &File, root: &Path, lock_path: &Path) -> Result<String> {
    let started = Instant::now();
    loop {
        let previous = holder_text(lock);
        match lock.try_lock() {
            Ok(()) => return Ok(previous),
            Err(TryLockError::WouldBlock) => {
                let wait = if previous.is_empty() || holder_is_gone(&previous) {
                    GONE_HOLDER_WAIT
                } else {
                    LIVE_HOLDER_WAIT
                };
                if started.elapsed() >= wait {
                    return Err(Error::Locked {
                        dir: root.to_path_buf(),
                        holder: if previous.is_empty() {
                            "holder unknown".into()
                        } else {
                            previous
                        },
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::Error(source)) => {
                return Err(Error::Io {
                    path: lock_path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// The lock file's text, trimmed (read through its own handle, from the start).
fn holder_text(lock: &File) -> String {
    let mut text = String::new();
    let mut f = lock;
    let _ = f.rewind().and_then(|_| f.read_to_string(&mut text));
    text.trim().to_string()
}

/// True when the holder named in the lock file (`pid N on HOST, …`) is a process of
/// this host that no longer runs or is exiting (a zombie, or killed and still tearing
/// down), so its lock is about to be released. A holder on another host (a shared
/// filesystem) is taken to be alive.
fn holder_is_gone(holder: &str) -> bool {
    let Some(rest) = holder.strip_prefix("pid ") else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once(" on ") else {
        return false;
    };
    let host = rest.split_once(',').map_or(rest, |(h, _)| h);
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != hostname() {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // Fields after the command name: state, ppid, pgrp, session, tty, tpgid, flags.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, f)| f)
        .split_whitespace()
        .collect();
    const PF_EXITING: u64 = 0x4;
    let zombie = matches!(fields.first(), Some(&("Z" | "X")));
    let exiting = fields
        .get(6)
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|f| f & PF_EXITING != 0);
    zombie || exiting
}

/// A file name for an id: readable (unsafe characters become `_`, at most 80 of them)
/// and unique (a hash of the whole id), so `a/b.txt` and `a_b.txt` do not collide.
pub fn file_name_for(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let hash = Sha256::digest(id.as_bytes());
    let hex: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}.json", slug.trim_start_matches('.'))
}

impl Drop for OutDir {
    /// A run that ends normally (or by a handled signal) leaves an empty lock file, so
    /// only a run that was killed leaves a holder behind for the next run to report.
    fn drop(&mut self) {
        let _ = self._lock.set_len(0);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("anuvad-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn file_names_are_readable_and_do_not_collide() {
        let a = file_name_for("a/b.txt");
        let b = file_name_for("a_b.txt");
        assert!(a.starts_with("a_b.txt-") && a.ends_with(".json"), "{a}");
        assert_ne!(a, b);
        assert!(!file_name_for("../../etc/passwd").contains('/'));
        assert!(!file_name_for("..").starts_with('.'));
    }

    #[test]
    fn a_second_open_of_a_locked_directory_names_the_holder() {
        let dir = temp("lock");
        let first = OutDir::open(&dir).unwrap();
        let err = OutDir::open(&dir).err().expect("second open must fail");
        assert_eq!(err.exit_code(), 8);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("another --out"), "{msg}");
        drop(first);
        // A run that ended normally leaves nothing to report.
        let again = OutDir::open(&dir).unwrap();
        assert_eq!(again.stale_lock, None);
        drop(again);
        // A killed run leaves its holder in the file, but the OS released its lock: the
        // next run takes over and says so. (The SIGKILL tests do this for real.)
        std::fs::write(dir.join(LOCK), "pid 1 on elsewhere, started earlier").unwrap();
        let after_kill = OutDir::open(&dir).unwrap();
        assert_eq!(
            after_kill.stale_lock.as_deref(),
            Some("pid 1 on elsewhere, started earlier")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_holder_is_gone_only_when_it_is_a_dead_process_of_this_host() {
        let dead = {
            let mut c = std::process::Command::new("true").spawn().unwrap();
            c.wait().unwrap();
            c.id()
        };
        let here = hostname();
        assert!(holder_is_gone(&format!("pid {dead} on {here}, started x")));
        let me = std::process::id();
        assert!(!holder_is_gone(&format!("pid {me} on {here}, started x")));
        assert!(!holder_is_gone(&format!(
            "pid {dead} on another-host, started x"
        )));
        assert!(!holder_is_gone("something else"));
    }

    #[test]
    fn records_round_trip_and_leftover_temp_files_are_removed() {
        let dir = temp("records");
        std::fs::create_dir_all(dir.join(TMP)).unwrap();
        std::fs::write(dir.join(TMP).join("x.json.1.tmp"), "{\"half").unwrap();
        let out = OutDir::open(&dir).unwrap();
        assert_eq!(std::fs::read_dir(dir.join(TMP)).unwrap().count(), 0);
        let rec = BatchRecord::new("x", "in/x.txt", crate::config::Task::Translate);
        out.write_record(&rec).unwrap();
        assert_eq!(out.read_record("x"), Some(rec));
        assert_eq!(out.read_record("missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
