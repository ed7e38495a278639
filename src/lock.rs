//! One writer at a time: an exclusive lock on a file next to the database
//! (`saslguard.db.lock`), so two overlapping cron runs never interleave their work.
//! Readers (`top`) need no lock: SQLite's WAL lets them read while a run writes.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Held while a command changes the store; released when dropped (or when the process
/// dies, however it dies).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// The lock file that guards `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock of `db`, waiting up to `wait` for another saslguard to finish;
/// `on_wait` is called once if we have to wait, with the holder's pid when known.
pub fn acquire(
    db: &Path,
    wait: Duration,
    on_wait: impl FnOnce(Option<u32>),
) -> anyhow::Result<DbLock> {
    let path = lock_path(db);
    // Only the pid is in it, but nobody else needs to open it either: 0600 whatever the
    // umask (readers take no lock).
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    let deadline = Instant::now() + wait;
    let mut on_wait = Some(on_wait);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let holder = read_pid(&mut file);
                if Instant::now() >= deadline {
                    let who = holder.map_or("another saslguard".to_string(), |pid| {
                        format!("another saslguard (pid {pid})")
                    });
                    bail!(
                        "{who} is using the database {} (lock {}); gave up after {}",
                        db.display(),
                        path.display(),
                        humantime::format_duration(wait)
                    );
                }
                if let Some(f) = on_wait.take() {
                    f(holder);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "{}", std::process::id())?;
    Ok(DbLock { _file: file })
}

/// Whether a saslguard holds the lock of `db` now, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Nobody: a run recorded as running has died (killed or crashed).
    Nobody,
    /// A saslguard holds it (its pid, when readable).
    Process(Option<u32>),
    /// The lock file cannot be opened by this user.
    Unknown,
}

/// Who holds the lock of `db`, without taking it for longer than the look (a shared
/// lock, released at once; the writer's is exclusive).
pub fn holder(db: &Path) -> Holder {
    let Ok(mut file) = File::open(lock_path(db)) else {
        return Holder::Unknown;
    };
    match file.try_lock_shared() {
        Ok(()) => Holder::Nobody,
        Err(TryLockError::WouldBlock) => Holder::Process(read_pid(&mut file)),
        Err(TryLockError::Error(_)) => Holder::Unknown,
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
