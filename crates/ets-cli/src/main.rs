//! `ets`: the openets command-line tool. A composition root only: it parses
//! arguments, opens the store and prints; the rules live in the library crates.

mod bench;
mod bench_http;
mod bench_market;
mod clock;
mod compliance;
mod demo;
mod history;
mod market;
mod one_command;
mod report_public;
mod show;
mod simulate;
mod submit;
mod user;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The heap allocator of the `ets` binary: mimalloc, whose size-segregated
/// pages keep the engine's many small nodes (tree nodes, remembered
/// outcomes, transactions) closer together than glibc's malloc does, which
/// spends fewer cache and TLB misses on them: a replay takes 11% less user
/// time (docs/benchmarks.md, "Replay"). Built without transparent huge pages
/// (`no_thp`): they cut the replay's user time by nearly half, but each huge
/// page faulted in cost ~29 ms of kernel time clearing it on the benchmark
/// machine (a virtual machine), three times what they saved.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--data DIR|URL`: where the store lives, taken the same way by every
/// command that opens a store (flattened into each of them): a
/// `postgres://` or `postgresql://` URL is a PostgreSQL database
/// (docs/postgres.md), anything else a directory.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreDir {
    /// The store: a directory, or a PostgreSQL URL (`postgres://user:password@host:port/database`).
    #[arg(long = "data", value_name = "DIR|URL")]
    pub data: ets_store::StoreLocation,
}

impl std::ops::Deref for StoreDir {
    type Target = ets_store::StoreLocation;

    fn deref(&self) -> &ets_store::StoreLocation {
        &self.data
    }
}

/// `--data DIR|URL` (or `--users DIR`): where the server's users live: the
/// users file (`users.json`) of a directory store or of the directory
/// `ets serve --users` names, or the `ets_users` table of a PostgreSQL store
/// (docs/postgres.md).
#[derive(clap::Args, Debug, Clone)]
pub struct UsersDir {
    /// The directory of the users file (the store directory, or the directory given to
    /// `ets serve --users`), or the PostgreSQL URL of a database store.
    #[arg(long = "data", visible_alias = "users", value_name = "DIR|URL")]
    pub data: PathBuf,
}

impl UsersDir {
    /// Where the users live.
    fn location(&self) -> ets_server::UsersLocation {
        let text = self.data.to_string_lossy();
        match ets_store::StoreLocation::parse(&text) {
            ets_store::StoreLocation::Database(url) => ets_server::UsersLocation::Database(url),
            ets_store::StoreLocation::Directory(_) => {
                ets_server::UsersLocation::Directory(self.data.clone())
            }
        }
    }
}

/// openets: an emissions trading system (registry, journal, engine).
#[derive(Parser)]
#[command(name = "ets", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Creates a new, empty store (journal and snapshots) in a directory or a PostgreSQL database.
    ///
    /// The kind says who sets the time, and never changes: `live` (the server's clock
    /// stamps every command), `virtual` (a simulation) or `import` (historical data):
    /// the clock of the last two moves only by an administrator (`ets clock advance`).
    /// Example: `ets init --data ./registry`, `ets init --data ./history --kind import` or
    /// `ets init --data postgres://ets:PASSWORD@db1:5432/ets` (an empty database; docs/postgres.md)
    Init {
        #[command(flatten)]
        data: crate::StoreDir,
        /// Who sets the time: live, virtual or import.
        #[arg(long, default_value = "live", value_parser = parse_store_kind)]
        kind: ets_store::StoreKind,
    },
    /// The store's clock: show it, or advance it on a virtual or import store.
    Clock {
        #[command(subcommand)]
        what: clock::Clock,
    },
    /// Applies JSON-lines commands and prints one JSON outcome line per command, in order.
    ///
    /// Each outcome is printed only after its command is durable (group commit: one
    /// fsync per batch). A rejected or malformed line gets `"ok": false` with a
    /// stable `code`, and the following lines are still processed.
    /// See docs/commands.md for every command.
    ///
    /// Example: `echo '{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}' | ets submit --data ./registry`
    Submit {
        #[command(flatten)]
        data: crate::StoreDir,
        /// A file of JSON lines, or `-` (the default) for standard input.
        #[arg(default_value = "-")]
        input: String,
        #[command(flatten)]
        batch: BatchMax,
        /// Import mode, on a virtual or import store only: a line's `time` first advances
        /// the store's clock to it, sent by this administrator (journaled); the line then
        /// goes in without it. Without this flag a line carrying `time` is refused
        /// (`client_time_refused`).
        #[arg(long, value_name = "ADMINISTRATOR")]
        dated_by: Option<u64>,
    },
    /// Prints an account, a transaction, a serial number's history or a participant as JSON.
    ///
    /// Example: `ets show --data ./registry account 100` or `ets show --data ./registry serial 42`
    Show {
        /// The store: a directory or a PostgreSQL URL (before or after what to show).
        #[arg(long, global = true, value_name = "DIR|URL")]
        data: Option<ets_store::StoreLocation>,
        #[command(subcommand)]
        what: show::What,
    },
    /// Re-checks every checksum and hash link, replays the journal into a fresh
    /// engine, checks every invariant and prints the record count and state hash.
    ///
    /// Exits 0 only if everything holds. Example: `ets verify --data ./registry`
    Verify {
        #[command(flatten)]
        data: crate::StoreDir,
    },
    /// Writes a snapshot so that the next start replays less of the journal.
    ///
    /// Example: `ets snapshot --data ./registry`
    Snapshot {
        #[command(flatten)]
        data: crate::StoreDir,
    },
    /// Runs a whole compliance year of China's national ETS (2,200 power companies, about
    /// 4.5 Gt) through the real engine on the embedded store, then writes a report with the
    /// simulated figures beside the published ones.
    ///
    /// Writes `report.md`, `report.html`, the charts (`*.svg`), `summary.json` and the
    /// journaled `store/` into the output folder, and prints a one-screen summary.
    /// Example: `ets demo` or `ets demo --seed 7 --entities 300`
    Demo {
        /// The scenario file (default: the built-in China power 2021 scenario,
        /// the same as `scenarios/cn-power-2021.toml` in the repository).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulate this many entities instead of the scenario's number.
        #[arg(long)]
        entities: Option<u32>,
        /// The output folder (default: out/<scenario>-<seed>; a previous run's folder there is replaced).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Runs a scenario and design variants of it with the same seed, each in its own
    /// journaled store under the output folder, and writes each run's report and one
    /// comparison (`comparison.md`, `comparison.html`, charts): volume, turnover, price
    /// volatility, compliance. A variant is a TOML file with `title`, `description` and
    /// the scenario keys it overrides (docs/simulation.md). With `--seeds N`, every run
    /// with N seeds in parallel (an ensemble: median and 5-95% bands); `ets simulate
    /// sweep` varies one setting over a range; `--shard I/N` runs a slice of either, and
    /// `ets simulate merge` combines the slices.
    ///
    /// Example: `ets simulate --scenario scenarios/cn-power-2021.toml --entities 300 --compare no-bank.toml --out out/lab`, where `no-bank.toml` holds `title = "No bank"` and `[flexibility]` `banked_2020 = [0.0, 0.0]`; `ets simulate --scenario scenarios/cn-power-2021.toml --seeds 20 --out out/ens`
    Simulate(simulate::SimulateArgs),
    /// Runs a short scripted registry session (issue, allocate, a four-eyes transfer,
    /// surrender, retirement) on the embedded store and prints the balances.
    ///
    /// Example: `ets tour` (a temporary store) or `ets tour --data ./tour-store`
    Tour {
        /// Keep the store here instead of in a temporary directory.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Serves the HTTP/JSON API on a store (users and tokens: `ets user`; docs/api.md).
    ///
    /// Prints `listening on http://ADDRESS` and `web UI at http://ADDRESS/ui` once ready; stops on Ctrl-C after
    /// finishing the queued batch. Example: `ets serve --data ./registry --listen 127.0.0.1:8080`,
    /// then `curl -d @command.json http://127.0.0.1:8080/api/commands`.
    Serve(ServeArgs),
    /// The compliance cycle: rulebooks, covered entities (CSV), allocation, year close, reports.
    Compliance {
        #[command(subcommand)]
        what: compliance::Compliance,
    },
    /// The exchange: orders, cancels, end of day, auction close; the book and daily statistics.
    Market {
        #[command(subcommand)]
        what: market::Market,
    },
    /// Public reports.
    Report {
        #[command(subcommand)]
        what: Report,
    },
    /// The server's users and API tokens.
    User {
        #[command(subcommand)]
        what: user::User,
    },
    /// The history database beside the journal: rebuild it, read transactions and serials.
    History {
        #[command(subcommand)]
        what: history::HistoryCommand,
    },
    /// Benchmarks; they print JSON figures.
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

/// The arguments of `ets serve`.
#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    data: crate::StoreDir,
    /// The directory of the users file (`users.json`, written by `ets user`): by
    /// default the store directory; required for a database store.
    #[arg(long, value_name = "DIR")]
    users: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Requests that may wait for the sequencer; beyond this the server answers 503.
    #[arg(long, default_value_t = 65_536)]
    queue_capacity: usize,
    #[command(flatten)]
    batch: BatchMax,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How often, in seconds, the server checks the inbox deadlines (a surrender
    /// deadline coming near or passing) with no command sent: default 60, at least
    /// 0.01. Example: `ets serve --data ./registry --tick-seconds 5`.
    #[arg(long, value_name = "SECONDS", value_parser = parse_tick_seconds)]
    tick_seconds: Option<std::time::Duration>,
}

/// `--batch`: the most commands one fsync makes durable, taken the same way
/// by `ets submit` and `ets serve`.
#[derive(clap::Args)]
struct BatchMax {
    /// The most commands made durable by one fsync.
    #[arg(long = "batch", value_name = "BATCH", default_value_t = BATCH_MAX_DEFAULT)]
    max: usize,
}

/// The default `--batch` of `ets submit`, `ets serve` and `ets bench ledger`:
/// 8,189 commands, the batch of TigerBeetle's own benchmark.
const BATCH_MAX_DEFAULT: usize = 8_189;

/// The report subcommands.
#[derive(Subcommand)]
enum Report {
    /// The public transparency report of a year: per installation allocation, verified
    /// emissions, units surrendered and compliance status (EU: A/B/C), and market statistics
    /// per day, with the journal's head hash and state hash at its cut-off (docs/public-report.md).
    ///
    /// Example: `ets report public --data ./registry --year 2021 --format csv`
    Public(report_public::PublicArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    quiet_on_broken_pipe();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            match store_error(&error) {
                Some(store) => eprintln!("error: {} (code {})", describe(&error), store.code()),
                None => eprintln!("error: {}", describe(&error)),
            }
            if let Some(hint) = hint_for(&error).or_else(|| database_hint(&error)) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes in one line, each said once: a layer that
/// already repeats its cause's text in its own message does not get the
/// cause appended again.
fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Whether `error` is a write to a closed pipe (`ets show ... | head -1`):
/// the reader has all it wants, so the tool ends quietly.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when standard output is a closed pipe; Rust ignores
/// SIGPIPE, and the project forbids the unsafe call that would restore it.
/// This hook ends the process quietly in that one case and leaves every
/// other panic to the default hook.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The store's error behind `error`, if any: its stable code is printed with the message.
fn store_error(error: &anyhow::Error) -> Option<&ets_store::StoreError> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ets_store::StoreError>())
}

/// What to do next when a PostgreSQL store refused (docs/postgres.md).
fn database_hint(error: &anyhow::Error) -> Option<&'static str> {
    let ets_store::StoreError::Database { code, .. } = store_error(error)? else {
        return None;
    };
    Some(match *code {
        "database_unreachable" => {
            "check the host and port of the URL and that PostgreSQL runs there"
        }
        "database_credentials" => "check the user and password in the URL",
        "not_a_store" => {
            "create a store there first with `ets init --data URL`, or give the URL of an existing one"
        }
        "already_exists" => "use that store as it is, or choose an empty database",
        "unsupported_version" => "open it with the newer `ets` that wrote it",
        "database_read_only" => {
            "that server is a standby: use the primary's URL, or promote the standby (`pg_ctl promote`) after a failover"
        }
        "locked" => "another `ets serve` writes this store; stop it, or send the commands to it",
        "fenced" => {
            "another server took over this store; restart this one against the current primary"
        }
        _ => return None,
    })
}

/// What to do next, for the errors a newcomer meets first.
fn hint_for(error: &anyhow::Error) -> Option<&'static str> {
    let journal = error.chain().find_map(|cause| {
        cause
            .downcast_ref::<ets_journal::JournalError>()
            .or_else(|| match cause.downcast_ref::<ets_store::StoreError>() {
                Some(ets_store::StoreError::Journal(journal)) => Some(journal),
                _ => None,
            })
    })?;
    Some(match journal {
        ets_journal::JournalError::NotAStore { .. } => {
            "create a store there first with `ets init --data DIR`, or pass the --data of an existing one"
        }
        ets_journal::JournalError::Locked { .. } => {
            "another `ets` process (for example `ets serve`) has this store open; stop it, or send the commands to it"
        }
        ets_journal::JournalError::AlreadyExists { .. } => {
            "use that store as it is, or choose an empty directory"
        }
        _ => return None,
    })
}

/// Where `ets serve` finds its store and its users file.
struct ServeAt {
    data: ets_store::StoreLocation,
    users: Option<PathBuf>,
}

impl ServeAt {
    /// The server's configuration: a directory store keeps its users file
    /// inside (or in `--users`); a database store needs `--users`.
    fn config(self, listen: std::net::SocketAddr) -> ets_server::ServerConfig {
        let (users, database, in_database) = match (self.data, self.users) {
            (ets_store::StoreLocation::Directory(dir), users) => (users.unwrap_or(dir), None, None),
            (ets_store::StoreLocation::Database(url), Some(users)) => (users, Some(url), None),
            // Without --users, the users live in the store's database (`ets user --data URL`).
            (ets_store::StoreLocation::Database(url), None) => (
                std::path::PathBuf::from("."),
                Some(url.clone()),
                Some(ets_server::UsersLocation::Database(url)),
            ),
        };
        ets_server::ServerConfig {
            database,
            users: in_database,
            ..ets_server::ServerConfig::new(users, listen)
        }
    }
}

/// `--tick-seconds`: a number of seconds, at least the server's shortest timer
/// interval ([`ets_server::TICK_MIN`]).
fn parse_tick_seconds(text: &str) -> Result<std::time::Duration, String> {
    let bound = ets_server::TICK_MIN;
    let seconds = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))?;
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(tick) if tick >= bound => Ok(tick),
        _ => Err(format!(
            "{text} s is below the shortest interval, {} s",
            bound.as_secs_f64()
        )),
    }
}

/// The sequencer's settings from `ets serve`'s flags.
struct ServeLimits {
    queue_capacity: usize,
    batch_max: usize,
    /// The deadline timer's interval; `None` keeps the server's default.
    tick: Option<std::time::Duration>,
}

fn serve(
    at: ServeAt,
    listen: std::net::SocketAddr,
    limits: ServeLimits,
    tls: Option<ets_server::TlsFiles>,
) -> Result<ExitCode> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let defaults = ets_server::SequencerConfig::default();
    let config = ets_server::ServerConfig {
        sequencer: ets_server::SequencerConfig {
            queue_capacity: limits.queue_capacity,
            batch_max: limits.batch_max,
            tick: limits.tick.unwrap_or(defaults.tick),
            ..defaults
        },
        tls,
        ..at.config(listen)
    };
    let runtime = ets_server::runtime(ets_server::RuntimeSettings::default())?;
    runtime.block_on(ets_server::serve(
        config,
        |address| {
            use std::io::Write;
            // One write for both lines: a reader that keeps only the first
            // line and closes the pipe never makes a later write fail.
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "listening on {scheme}://{address}\nweb UI at {scheme}://{address}/ui\n"
            );
            let _ = out.flush();
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn parse_store_kind(text: &str) -> Result<ets_store::StoreKind, String> {
    text.parse()
}

/// Runs the subcommand `cli` names.
fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Commands::Init { data, kind } => init(&data, kind),
        Commands::Clock { what } => clock::run(what),
        Commands::Submit {
            data,
            input,
            batch,
            dated_by,
        } => submit::run(&data, &input, batch.max, dated_by),
        Commands::Show { data, what } => show(data, what),
        Commands::Verify { data } => show::verify(&data),
        Commands::Snapshot { data } => snapshot(&data),
        Commands::Tour { data } => demo::run(data),
        Commands::Demo {
            scenario,
            seed,
            entities,
            out,
        } => demo(scenario, seed, entities, out),
        Commands::Simulate(args) => simulate::run(args),
        Commands::Bench { what } => bench::run(what),
        Commands::History { what } => history::run(what),
        Commands::Compliance { what } => compliance::run(what),
        Commands::User { what } => user::run(what),
        Commands::Report {
            what: Report::Public(args),
        } => report_public::run(&args),
        Commands::Market { what } => market::run(what),
        Commands::Serve(args) => args.run(),
    }
}

/// `ets init`: creates an empty store of `kind` with the default retention window.
fn init(data: &ets_store::StoreLocation, kind: ets_store::StoreKind) -> Result<ExitCode> {
    let mut store = ets_store::Store::create_at(data, ets_store::StoreConfig::default(), kind)?;
    one_command::set_retention(&mut store, ets_engine::retention::DEFAULT_WINDOW)?;
    println!("created an empty {kind} store in {}", data.display());
    Ok(ExitCode::SUCCESS)
}

/// `ets show`: `--data` may come before or after what to show, but must come.
fn show(data: Option<ets_store::StoreLocation>, what: show::What) -> Result<ExitCode> {
    let Some(data) = data else {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "`ets show` needs --data DIR|URL (the store directory or database)",
            )
            .exit();
    };
    show::run(&data, what)
}

/// `ets snapshot`: writes a snapshot of the store's state at its last record.
fn snapshot(data: &ets_store::StoreLocation) -> Result<ExitCode> {
    let mut store = ets_store::Store::open_at(data, ets_store::StoreConfig::default())?;
    store.snapshot()?;
    println!(
        "snapshot written at record {}",
        store.journal().last_sequence()
    );
    Ok(ExitCode::SUCCESS)
}

/// `ets demo`: the scenario given, or the built-in one.
fn demo(
    scenario: Option<PathBuf>,
    seed: Option<u64>,
    entities: Option<u32>,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    match scenario {
        Some(scenario) => simulate::demo(&scenario, seed, entities, out),
        None => {
            let (_folder, scenario) = demo::default_scenario()?;
            simulate::demo(&scenario, seed, entities, out)
        }
    }
}

impl ServeArgs {
    /// `ets serve` with these arguments.
    fn run(self) -> Result<ExitCode> {
        let tls = self
            .tls_cert
            .zip(self.tls_key)
            .map(|(cert, key)| ets_server::TlsFiles { cert, key });
        let at = ServeAt {
            data: self.data.data,
            users: self.users,
        };
        let limits = ServeLimits {
            queue_capacity: self.queue_capacity,
            batch_max: self.batch.max,
            tick: self.tick_seconds,
        };
        serve(at, self.listen, limits, tls)
    }
}
