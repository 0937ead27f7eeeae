//! Test support: a throwaway PostgreSQL cluster, started from the Debian
//! packages' server binaries (`initdb`, `pg_ctl` under
//! `/usr/lib/postgresql/<version>/bin`, or the directory in `ETS_PG_BIN`)
//! in a temporary directory, listening on a free port of 127.0.0.1 with
//! password authentication, and stopped (immediately) when dropped.
//!
//! PostgreSQL refuses to run as root; when the tests run as root the
//! cluster runs as the `postgres` system user that the packages create.
//! A streaming standby of a cluster ([`Cluster::start_standby`]) and a
//! SIGKILL of the postmaster ([`Cluster::kill`]) serve failover tests; a
//! stop and start ([`Cluster::stop`], [`Cluster::start_again`]) and the
//! termination of every session of a database ([`Cluster::terminate_sessions`])
//! serve outage tests, and a tablespace on a small filesystem of its own
//! ([`SmallDisk`], [`Cluster::create_database_on`]) a full disk.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The superuser's name in every throwaway cluster.
pub const USER: &str = "postgres";
/// The superuser's password in every throwaway cluster.
pub const PASSWORD: &str = "ets-test-password";

/// Why a cluster could not be started or driven.
#[derive(Debug, Error)]
pub enum PgError {
    /// No PostgreSQL server binaries were found.
    #[error(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (install the Debian package `postgresql`) and ETS_PG_BIN is not set"
    )]
    NotInstalled,
    /// A command could not be run or failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// What was run.
        command: String,
        /// Its output or the error.
        detail: String,
    },
    /// A file or directory operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A bounded wait ended before the cluster got where it should.
    #[error("waited {within:?} for {what}")]
    Timeout {
        /// What was waited for, and what was seen.
        what: String,
        /// How long.
        within: Duration,
    },
    /// The client could not connect or the query failed.
    #[error(transparent)]
    Client(#[from] postgres::Error),
}

/// A running throwaway cluster.
pub struct Cluster {
    bin: PathBuf,
    /// Holds the directory; removed after the cluster stops.
    _temp: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    run_as_postgres: bool,
    stopped: bool,
}

impl Cluster {
    /// Creates and starts a new cluster (a primary that a synchronous standby may follow).
    ///
    /// # Errors
    /// [`PgError`] when the binaries are missing or the server does not start.
    pub fn start() -> Result<Cluster, PgError> {
        let bin = server_binaries()?;
        let temp = tempfile::Builder::new().prefix("ets-pg-").tempdir()?;
        let run_as_postgres = running_as_root();
        if run_as_postgres {
            hand_to_postgres(temp.path())?;
        }
        let data = temp.path().join("data");
        let password_file = temp.path().join("password");
        std::fs::write(&password_file, PASSWORD)?;
        if run_as_postgres {
            hand_to_postgres(&password_file)?;
        }
        let mut cluster = Cluster {
            bin,
            _temp: temp,
            data: data.clone(),
            port: free_port()?,
            run_as_postgres,
            stopped: true,
        };
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                USER.as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                password_file.as_os_str(),
                "--no-sync".as_ref(),
            ],
        )?;
        cluster.configure(&[
            "wal_level = replica",
            "max_wal_senders = 4",
            "synchronous_commit = on",
            "fsync = on",
        ])?;
        cluster.append_hba("host replication all 127.0.0.1/32 scram-sha-256")?;
        cluster.pg_start()?;
        Ok(cluster)
    }

    /// Starts a streaming standby of this cluster (base backup, then
    /// replication) and makes it this cluster's synchronous standby, so
    /// every commit acknowledged by this cluster is on the standby too.
    ///
    /// # Errors
    /// [`PgError`] when the backup or the standby's start fails.
    pub fn start_standby(&mut self) -> Result<Cluster, PgError> {
        let temp = tempfile::Builder::new()
            .prefix("ets-pg-standby-")
            .tempdir()?;
        if self.run_as_postgres {
            hand_to_postgres(temp.path())?;
        }
        let data = temp.path().join("data");
        let mut standby = Cluster {
            bin: self.bin.clone(),
            _temp: temp,
            data: data.clone(),
            port: free_port()?,
            run_as_postgres: self.run_as_postgres,
            stopped: true,
        };
        let port = self.port.to_string();
        standby.run(
            "pg_basebackup",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-h".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                USER.as_ref(),
                "-R".as_ref(),
                "--wal-method=stream".as_ref(),
                // Not a spread checkpoint: that would wait minutes for the primary's next one.
                "--checkpoint=fast".as_ref(),
            ],
        )?;
        // `-R` wrote a primary_conninfo into postgresql.auto.conf, read after
        // postgresql.conf: the one naming the standby goes after it there.
        standby.configure_auto(&["primary_conninfo = 'host=127.0.0.1 port=".to_owned()
            + &port
            + " user=postgres password="
            + PASSWORD
            + " application_name=standby'"])?;
        standby.pg_start()?;
        self.configure(&["synchronous_standby_names = 'standby'"])?;
        self.run(
            "pg_ctl",
            &["reload".as_ref(), "-D".as_ref(), self.data.as_os_str()],
        )?;
        Ok(standby)
    }

    /// Promotes this standby to a primary and waits until it accepts writes.
    ///
    /// # Errors
    /// [`PgError`] when promotion fails.
    pub fn promote(&mut self) -> Result<(), PgError> {
        self.run(
            "pg_ctl",
            &[
                "promote".as_ref(),
                "-w".as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
            ],
        )?;
        Ok(())
    }

    /// Kills the postmaster with SIGKILL, as a machine failure would.
    ///
    /// # Errors
    /// [`PgError`] when the pid file cannot be read or the signal not sent.
    pub fn kill(&mut self) -> Result<(), PgError> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid"))?;
        let pid = pid_file
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let output = Command::new("kill").args(["-KILL", &pid]).output()?;
        check("kill -KILL", &output)?;
        self.stopped = true;
        Ok(())
    }

    /// Waits until the standby named `name` streams from this cluster as
    /// its synchronous standby (`pg_stat_replication.sync_state = 'sync'`),
    /// so that from now on no commit returns before the standby has it.
    ///
    /// # Errors
    /// [`PgError::Timeout`] when it is not so within `within`, naming what was seen.
    pub fn wait_for_synchronous_standby(
        &self,
        name: &str,
        within: Duration,
    ) -> Result<(), PgError> {
        let deadline = Instant::now() + within;
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        loop {
            let state: Option<String> = client
                .query_opt(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1",
                    &[&name],
                )?
                .map(|row| row.get(0));
            if state.as_deref() == Some("sync") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PgError::Timeout {
                    what: format!(
                        "standby `{name}` to be synchronous (pg_stat_replication says {state:?})"
                    ),
                    within,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server is in recovery (a standby not yet promoted).
    ///
    /// # Errors
    /// [`PgError::Client`].
    pub fn in_recovery(&self) -> Result<bool, PgError> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        Ok(client.query_one("SELECT pg_is_in_recovery()", &[])?.get(0))
    }

    /// The port it listens on (127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` with the superuser's password.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates a database and returns its URL.
    ///
    /// # Errors
    /// [`PgError::Client`].
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        client.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(name))
    }

    /// Stops the server (fast shutdown: sessions are terminated, nothing
    /// committed is lost), as an operator's restart or a crash-free outage does.
    ///
    /// # Errors
    /// [`PgError`] when `pg_ctl stop` fails.
    pub fn stop(&mut self) -> Result<(), PgError> {
        self.run(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-w".as_ref(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
            ],
        )?;
        self.stopped = true;
        Ok(())
    }

    /// Starts a stopped server again on the same port and data.
    ///
    /// # Errors
    /// [`PgError`] when it does not start.
    pub fn start_again(&mut self) -> Result<(), PgError> {
        self.pg_start()
    }

    /// Terminates every session connected to `database`
    /// (`pg_terminate_backend`), as a lost connection would end them; returns
    /// how many there were.
    ///
    /// # Errors
    /// [`PgError::Client`].
    pub fn terminate_sessions(&self, database: &str) -> Result<usize, PgError> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        let rows = client.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&database],
        )?;
        Ok(rows.len())
    }

    /// Creates database `name` whose default tablespace lies in `disk`, so
    /// every table of it is written there; returns its URL.
    ///
    /// # Errors
    /// [`PgError::Client`].
    pub fn create_database_on(&self, name: &str, disk: &SmallDisk) -> Result<String, PgError> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)?;
        let location = disk.path().display().to_string().replace('\'', "''");
        // Each alone: neither may run inside a transaction block.
        client.batch_execute(&format!(
            "CREATE TABLESPACE \"{name}_space\" LOCATION '{location}'"
        ))?;
        client.batch_execute(&format!(
            "CREATE DATABASE \"{name}\" TABLESPACE \"{name}_space\""
        ))?;
        Ok(self.url(name))
    }

    fn pg_start(&mut self) -> Result<(), PgError> {
        let log = self.data.with_file_name("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
            ],
        )?;
        self.stopped = false;
        Ok(())
    }

    fn configure(&self, lines: &[impl AsRef<str>]) -> Result<(), PgError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))?;
        for line in lines {
            writeln!(file, "{}", line.as_ref())?;
        }
        Ok(())
    }

    fn configure_auto(&self, lines: &[impl AsRef<str>]) -> Result<(), PgError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.auto.conf"))?;
        for line in lines {
            writeln!(file, "{}", line.as_ref())?;
        }
        Ok(())
    }

    fn append_hba(&self, line: &str) -> Result<(), PgError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("pg_hba.conf"))?;
        writeln!(file, "{line}")?;
        Ok(())
    }

    /// Runs one of the server binaries, as `postgres` when we are root.
    fn run(&self, program: &str, arguments: &[&std::ffi::OsStr]) -> Result<Output, PgError> {
        let path = self.bin.join(program);
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", USER, "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command.args(arguments).env("PGPASSWORD", PASSWORD);
        let output = command.output().map_err(|error| PgError::Command {
            command: path.display().to_string(),
            detail: error.to_string(),
        })?;
        check(program, &output)?;
        Ok(output)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.run(
                "pg_ctl",
                &[
                    "stop".as_ref(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-D".as_ref(),
                    self.data.as_os_str(),
                ],
            );
        }
    }
}

/// A filesystem of a fixed small size (a tmpfs mounted on a temporary
/// directory, which needs root, as the tests run in CI), for a tablespace
/// whose disk fills; unmounted when dropped (drop the cluster using it first).
pub struct SmallDisk {
    temp: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` and hands it to the server's user.
    ///
    /// # Errors
    /// [`PgError::Command`] when it cannot be mounted (not root, or mounting
    /// is not allowed in this container).
    pub fn mount(bytes: u64) -> Result<SmallDisk, PgError> {
        let temp = tempfile::Builder::new().prefix("ets-pg-disk-").tempdir()?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0700"))
            .arg("tmpfs")
            .arg(temp.path())
            .output()?;
        check("mount -t tmpfs", &output)?;
        let disk = SmallDisk { temp };
        if running_as_root() {
            hand_to_postgres(disk.path())?;
        }
        Ok(disk)
    }

    /// Where it is mounted.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Fills what is left of it with a file of zeros (`filler` in it), so
    /// the next write that needs a new block fails with "no space left".
    ///
    /// # Errors
    /// [`PgError::Io`] on any failure but the disk filling.
    pub fn fill(&self) -> Result<(), PgError> {
        use std::io::Write;
        let mut file = std::fs::File::create(self.filler())?;
        let block = vec![0_u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => return Ok(()),
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Gives back the space [`SmallDisk::fill`] took.
    ///
    /// # Errors
    /// [`PgError::Io`].
    pub fn free(&self) -> Result<(), PgError> {
        std::fs::remove_file(self.filler())?;
        Ok(())
    }

    fn filler(&self) -> PathBuf {
        self.temp.path().join("filler")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a server still holding a file there lets go when it exits.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.temp.path())
            .output();
    }
}

fn check(program: &str, output: &Output) -> Result<(), PgError> {
    if output.status.success() {
        return Ok(());
    }
    Err(PgError::Command {
        command: program.to_owned(),
        detail: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

/// The newest installed server's binary directory.
fn server_binaries() -> Result<PathBuf, PgError> {
    if let Some(bin) = std::env::var_os("ETS_PG_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| PgError::NotInstalled)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(PgError::NotInstalled)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Gives `path` to the `postgres` user, which the server runs as under root.
fn hand_to_postgres(path: &Path) -> Result<(), PgError> {
    let output = Command::new("chown")
        .arg(format!("{USER}:{USER}"))
        .arg(path)
        .output()?;
    check("chown", &output)
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, PgError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synchronous_standby_follows_and_is_read_only_until_promoted() {
        let mut primary = Cluster::start().expect("a cluster starts");
        let url = primary.create_database("ets").expect("a database");
        let mut standby = primary.start_standby().expect("a standby starts");
        primary
            .wait_for_synchronous_standby("standby", Duration::from_secs(60))
            .expect("the standby is synchronous");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
        client
            .batch_execute("CREATE TABLE t (x INT); INSERT INTO t VALUES (7)")
            .expect("writes");
        assert!(standby.in_recovery().expect("asks"));
        // Synchronous: the committed row is on the standby as soon as COMMIT returned.
        let mut reader =
            postgres::Client::connect(&standby.url("ets"), postgres::NoTls).expect("connects");
        let row = reader.query_one("SELECT x FROM t", &[]).expect("reads");
        assert_eq!(row.get::<_, i32>(0), 7);
        let refused = reader
            .batch_execute("INSERT INTO t VALUES (8)")
            .expect_err("read-only");
        assert_eq!(
            refused.as_db_error().map(|db| db.code().clone()),
            Some(postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
        );
        primary.kill().expect("killed");
        standby.promote().expect("promoted");
        assert!(!standby.in_recovery().expect("asks"));
        let mut writer =
            postgres::Client::connect(&standby.url("ets"), postgres::NoTls).expect("connects");
        writer
            .batch_execute("INSERT INTO t VALUES (8)")
            .expect("writes after promotion");
    }

    #[test]
    fn a_throwaway_cluster_answers_with_the_password_and_refuses_a_wrong_one() {
        let cluster = Cluster::start().expect("a cluster starts");
        let url = cluster.create_database("ets").expect("a database");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
        let row = client.query_one("SELECT 1 + 1", &[]).expect("answers");
        assert_eq!(row.get::<_, i32>(0), 2);
        let wrong = url.replace(PASSWORD, "wrong");
        let error = postgres::Client::connect(&wrong, postgres::NoTls)
            .err()
            .expect("refused");
        let code = error.as_db_error().map(|db| db.code().clone());
        assert_eq!(code, Some(postgres::error::SqlState::INVALID_PASSWORD));
    }
}
