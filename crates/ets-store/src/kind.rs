//! The store's kind, chosen once at creation and recorded durably in the
//! store directory (`store-kind`), or for a database store as `kind` in its
//! `ets_store` table: who sets the time of its commands.
//!
//! - `live`: the sequencer stamps every command with the server's clock; a
//!   client never sets it.
//! - `virtual` (a simulation) and `import` (a historical import): the clock
//!   moves only by an administrator's journaled `advance_clock` command, and
//!   every command is stamped with the clock as it stands. Every view of such
//!   a store says it is not live.
//!
//! A store written before kinds existed has no file and is live.

use crate::store::StoreError;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

/// The file in the store directory that records the kind.
pub const KIND_FILE: &str = "store-kind";

/// Who sets the time of a store's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StoreKind {
    /// The server's clock stamps every command.
    #[default]
    Live,
    /// A simulation: a virtual clock that only the administrator advances.
    Virtual,
    /// A historical import: a clock that only the administrator advances,
    /// to the dates of the records being imported.
    Import,
}

impl StoreKind {
    /// Every kind, in the order `ets init --kind` lists them.
    pub const ALL: [StoreKind; 3] = [StoreKind::Live, StoreKind::Virtual, StoreKind::Import];

    /// Its name: `live`, `virtual` or `import`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Live => "live",
            StoreKind::Virtual => "virtual",
            StoreKind::Import => "import",
        }
    }

    /// Whether the server's clock stamps its commands.
    #[must_use]
    pub fn is_live(self) -> bool {
        self == StoreKind::Live
    }

    /// A sentence for views of a store that is not live; `None` for a live one.
    #[must_use]
    pub fn not_live_notice(self) -> Option<&'static str> {
        match self {
            StoreKind::Live => None,
            StoreKind::Virtual => Some(
                "NOT LIVE: a simulation store; its clock is virtual and moved only by the administrator",
            ),
            StoreKind::Import => Some(
                "NOT LIVE: a historical import store; its clock is moved only by the administrator",
            ),
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(text: &str) -> Result<StoreKind, String> {
        StoreKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| format!("unknown store kind `{text}`: use live, virtual or import"))
    }
}

/// Writes the kind file (temporary file, fsync, rename, fsync the directory).
pub(crate) fn write(dir: &Path, kind: StoreKind) -> Result<(), StoreError> {
    let fault = |error: std::io::Error| StoreError::Kind {
        reason: format!("cannot write {}: {error}", dir.join(KIND_FILE).display()),
    };
    let partial = dir.join(format!("{KIND_FILE}.partial"));
    let mut file = std::fs::File::create(&partial).map_err(fault)?;
    writeln!(
        file,
        "# The kind of this openets store, chosen at `ets init` and never changed.\nkind = {}",
        kind.name()
    )
    .map_err(fault)?;
    file.sync_all().map_err(fault)?;
    drop(file);
    std::fs::rename(&partial, dir.join(KIND_FILE)).map_err(fault)?;
    std::fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(fault)
}

/// Reads the kind file; a store without one (written before kinds existed) is live.
pub(crate) fn read(dir: &Path) -> Result<StoreKind, StoreError> {
    let path = dir.join(KIND_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(StoreKind::Live),
        Err(error) => {
            return Err(StoreError::Kind {
                reason: format!("cannot read {}: {error}", path.display()),
            });
        }
    };
    parse(&text).map_err(|reason| StoreError::Kind {
        reason: format!("{}: {reason}", path.display()),
    })
}

fn parse(text: &str) -> Result<StoreKind, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let line = lines.next().ok_or("no `kind = ...` line")?;
    if let Some(extra) = lines.next() {
        return Err(format!("unexpected line `{extra}`"));
    }
    let value = line
        .strip_prefix("kind")
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or_else(|| format!("expected `kind = ...`, found `{line}`"))?;
    value.trim().parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        assert_eq!(read(dir.path()).expect("no file"), StoreKind::Live);
        for kind in StoreKind::ALL {
            write(dir.path(), kind).expect("written");
            assert_eq!(read(dir.path()).expect("read"), kind);
        }
    }

    #[test]
    fn a_damaged_kind_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        for text in [
            "kind = realtime\n",
            "",
            "kind = live\nkind = virtual\n",
            "live\n",
        ] {
            std::fs::write(dir.path().join(KIND_FILE), text).expect("written");
            let error = read(dir.path()).expect_err(text);
            assert_eq!(error.code(), "bad_store_kind");
            assert!(error.to_string().contains(KIND_FILE), "{error}");
        }
    }
}
