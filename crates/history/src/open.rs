//! Opening the database: WAL mode, migrations to [`SCHEMA_VERSION`], and a file that cannot be
//! used (not a database, damaged, or from a newer release) renamed aside and reported, with a
//! new database started in its place, so monitoring never stops over its history.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::Batch;
use crate::schema::{MIGRATIONS, SCHEMA_VERSION};

/// Why the history could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite refused (a full disk, a read-only folder, …).
    #[error("history database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file could not be renamed aside.
    #[error("cannot move {path} aside: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Why the database found at start was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenProblem {
    /// What was wrong ("not a database", "written by a newer Gatewatch (schema 7)").
    pub what: String,
    /// Where the old file was kept.
    pub kept_as: PathBuf,
}

impl std::fmt::Display for OpenProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the history database could not be used ({}); it was kept as {} and a new one started",
            self.what,
            self.kept_as.display()
        )
    }
}

/// The open database.
pub struct History {
    path: PathBuf,
    connection: Connection,
}

/// What [`History::open`] found.
pub struct Opened {
    /// The database, ready.
    pub history: History,
    /// The file found was not usable: where it went.
    pub problem: Option<OpenProblem>,
    /// The schema version the file had (0: new).
    pub migrated_from: u32,
}

impl History {
    /// Opens (or creates) the database at `path` and brings its schema up to date; a file it
    /// cannot use is renamed aside (`<name>.corrupt-<epoch ms>`) and a new one started.
    pub fn open(path: &Path) -> Result<Opened, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        match Self::open_as_is(path) {
            Ok((history, migrated_from)) => Ok(Opened {
                history,
                problem: None,
                migrated_from,
            }),
            Err(Unusable::Sqlite(e)) if !is_damage(&e) => Err(sqlite(e)),
            Err(unusable) => {
                let what = unusable.to_string();
                let kept_as = keep_aside(path)?;
                tracing::warn!(path = %path.display(), kept_as = %kept_as.display(), what, "history database unusable");
                let (history, migrated_from) = Self::open_as_is(path).map_err(|e| match e {
                    Unusable::Sqlite(e) => sqlite(e),
                    Unusable::Newer(_) => unreachable!("a new file has no version"),
                })?;
                Ok(Opened {
                    history,
                    problem: Some(OpenProblem { what, kept_as }),
                    migrated_from,
                })
            }
        }
    }

    fn open_as_is(path: &Path) -> Result<(History, u32), Unusable> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: u32 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Unusable::Newer(version));
        }
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "the history database is not in WAL mode");
        }
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        let mut history = History {
            path: path.to_path_buf(),
            connection,
        };
        history.migrate(version)?;
        Ok((history, version))
    }

    fn migrate(&mut self, from: u32) -> rusqlite::Result<()> {
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.connection.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index as u32 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Writes `batch` in one transaction.
    pub fn write(&mut self, batch: &Batch) -> Result<(), HistoryError> {
        let sqlite = |source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let tx = self.connection.transaction().map_err(sqlite)?;
        batch.write(&tx).map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    /// Deletes what is older than `retention` allows at `now_ms`; returns the rows deleted.
    pub fn prune(
        &mut self,
        now_ms: u64,
        retention: &crate::Retention,
    ) -> Result<usize, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let before = |ms: u64| now_ms.saturating_sub(ms) as i64;
        let day = 86_400_000;
        let tx = self.connection.transaction().map_err(sqlite)?;
        let mut deleted = 0;
        for (sql, cutoff) in [
            (
                "DELETE FROM pings WHERE at_ms < ?1",
                before(u64::from(retention.raw_hours) * 3_600_000),
            ),
            (
                "DELETE FROM latency_minute WHERE minute_ms < ?1",
                before(u64::from(retention.minute_days) * day),
            ),
            (
                "DELETE FROM latency_10min WHERE start_ms < ?1",
                before(u64::from(retention.minute_days) * day),
            ),
            (
                "DELETE FROM connects WHERE at_ms < ?1",
                before(u64::from(retention.minute_days) * day),
            ),
            (
                "DELETE FROM zombies WHERE at_ms < ?1",
                before(u64::from(retention.event_days) * day),
            ),
            (
                "DELETE FROM events WHERE at_ms < ?1",
                before(u64::from(retention.event_days) * day),
            ),
            (
                "DELETE FROM watched WHERE until_ms < ?1",
                before(u64::from(retention.event_days) * day),
            ),
            (
                "DELETE FROM incidents WHERE ended_ms IS NOT NULL AND ended_ms < ?1",
                before(u64::from(retention.event_days) * day),
            ),
        ] {
            deleted += tx.execute(sql, [cutoff]).map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(deleted)
    }

    /// The connection, for reads in tests and the queries of later modules.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

enum Unusable {
    Sqlite(rusqlite::Error),
    Newer(u32),
}

impl From<rusqlite::Error> for Unusable {
    fn from(e: rusqlite::Error) -> Self {
        Unusable::Sqlite(e)
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Sqlite(e) => write!(f, "{e}"),
            Unusable::Newer(version) => write!(
                f,
                "written by a newer Gatewatch (schema {version}; this one knows up to {SCHEMA_VERSION})"
            ),
        }
    }
}

/// A file that is not a database or is damaged (as opposed to a full disk or a read-only
/// folder, which are reported and not "fixed" by moving the file).
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Renames `path` (and its WAL and shared-memory files) aside; returns the new name.
fn keep_aside(path: &Path) -> Result<PathBuf, HistoryError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let aside = |p: &Path| PathBuf::from(format!("{}.corrupt-{stamp}", p.display()));
    let kept = aside(path);
    std::fs::rename(path, &kept).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            let _ = std::fs::rename(&side, aside(&side));
        }
    }
    Ok(kept)
}
