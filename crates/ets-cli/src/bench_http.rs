//! `ets bench http`: transfers and orders over HTTP against a real `ets
//! serve`, from N concurrent keep-alive connections, closed loop (each
//! connection sends its next request when the previous one is answered).
//! By default the bench starts the server itself, in this process, on a
//! temporary store; `--url` drives an existing one. Prints JSON figures
//! (requests/s, durable commands/s, latency percentiles, errors, the
//! server's and the client's CPU time per request); asserts nothing about
//! time. The measured requests go through the bench's own lean HTTP/1.1
//! client (`wire`), which can pipeline; `--echo` drives a minimal hyper
//! server instead (`echo`), the ceiling of HTTP alone on the machine.

mod cpu;
mod echo;
mod wire;

use anyhow::{Context, Result, bail};
use clap::Args;
use ets_model::ParticipantId;
use ets_server::{Role, ServerConfig, Users};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Transfers and orders over loopback HTTP against `ets serve`.
///
/// Example: `ets bench http --connections 64 --seconds 10` (a server on a
/// temporary store), `ets bench http --batch 100` (many commands per request),
/// or `ets bench http --url http://127.0.0.1:8080 --token ets_... --exchange-token ets_...`.
#[derive(Args)]
pub struct HttpArgs {
    /// Concurrent connections, each sending one request at a time.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to measure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Commands per request: 1 uses `POST /api/commands`, more use
    /// `POST /api/commands/batch` with that many JSON lines.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Requests each connection sends before reading their answers (HTTP/1.1
    /// pipelining; the server still answers them one after another, in order).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Trading accounts the workload moves units and orders between.
    #[arg(long, default_value_t = 1_000)]
    accounts: u64,
    /// An existing server (default: start one on a temporary store).
    #[arg(long, requires_all = ["token", "exchange_token"])]
    url: Option<String>,
    /// With `--url`: an API token of an administrator user.
    #[arg(long)]
    token: Option<String>,
    /// With `--url`: an API token of a user whose participant has the kind `exchange`.
    #[arg(long)]
    exchange_token: Option<String>,
    /// With `--url`: the participant of `--token`.
    #[arg(long, default_value_t = 1)]
    admin_participant: u64,
    /// With `--url`: the participant of `--exchange-token` (it must not hold a
    /// trading account yet: the bench opens its fee account).
    #[arg(long, default_value_t = 2)]
    exchange_participant: u64,
    /// First id of the participants, accounts and request ids the bench
    /// creates (default: from the clock, so runs against one store do not collide).
    #[arg(long)]
    id_base: Option<u64>,
    /// With `--url`: the process id of the server, to report its CPU time per
    /// request (read from /proc while the bench measures).
    #[arg(long, requires = "url")]
    server_pid: Option<u32>,
    /// Drive a minimal hyper server answering a fixed outcome line (no
    /// routes, users, parsing, store or fsync) instead of `ets serve`: what
    /// HTTP over loopback alone allows on this machine.
    #[arg(long, conflicts_with = "url")]
    echo: bool,
    /// Worker threads of the server's runtime when the bench starts it (its
    /// own or `--echo`); `ets serve` uses one per CPU.
    #[arg(long, default_value_t = 2, conflicts_with = "url")]
    server_workers: usize,
    /// The server runtime's event interval (tasks a worker runs between two
    /// polls for I/O) when the bench starts it; default: `ets serve`'s.
    #[arg(long, conflicts_with = "url")]
    server_event_interval: Option<u32>,
    /// The server runtime's global queue interval when the bench starts it;
    /// default: `ets serve`'s.
    #[arg(long, conflicts_with = "url")]
    server_global_queue_interval: Option<u32>,
}

impl HttpArgs {
    /// The runtime of a server the bench starts: `ets serve`'s, with the
    /// worker count and the intervals given.
    fn server_runtime(&self) -> ets_server::RuntimeSettings {
        ets_server::RuntimeSettings {
            workers: Some(self.server_workers),
            event_interval: self.server_event_interval,
            global_queue_interval: self.server_global_queue_interval,
        }
    }
}

/// The name of the client's runtime threads.
const CLIENT_THREADS: &str = "bench-client";

const PASSWORD: &str = "bench password, not secret";
const PRICE_TICKS: i64 = 5_000;

/// Where the bench sends requests, and as whom.
#[derive(Clone)]
struct Target {
    base: String,
    admin: String,
    exchange: String,
    admin_participant: u64,
    exchange_participant: u64,
}

/// The ids of what the setup created.
#[derive(Clone, Copy)]
struct Layout {
    base: u64,
    accounts: u64,
    admin: u64,
}

impl Layout {
    fn issuance(self) -> u64 {
        self.base
    }
    fn fees(self) -> u64 {
        self.base + 2
    }
    fn account(self, index: u64) -> u64 {
        self.base + 10 + index % self.accounts
    }
    fn symbol(self) -> String {
        format!("B{}", self.base % 1_000_000)
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// What the bench drives, and whose CPU time counts as the server's.
#[expect(
    dead_code,
    reason = "the servers this process started are held only to stop them when dropped"
)]
enum Server {
    /// An `ets serve` in another process (`--url`), with its process id if given.
    Remote(Option<u32>),
    /// The server this process started on a temporary store.
    Own(InProcess),
    /// The minimal hyper server (`--echo`).
    Echo(echo::Echo),
}

impl Server {
    /// The server's CPU seconds so far, when they can be read.
    fn cpu_seconds(&self) -> Option<f64> {
        match self {
            Server::Remote(pid) => pid.and_then(cpu::process_seconds),
            // Every thread but the client's and the main thread: the server's
            // runtime, sequencer, journal writer, history, whatever it starts.
            Server::Own(_) | Server::Echo(_) => cpu::threads_seconds_except(&[CLIENT_THREADS]),
        }
    }

    /// The CPU seconds so far of the bench's own server's history writer
    /// thread (`ets-history`); none for a server in another process.
    fn history_cpu_seconds(&self) -> Option<f64> {
        match self {
            Server::Own(_) => cpu::threads_seconds(&[ets_history::WRITER_THREAD_NAME]),
            Server::Remote(_) | Server::Echo(_) => None,
        }
    }

    fn describe(&self, target: &Target) -> String {
        match self {
            Server::Remote(_) => target.base.clone(),
            Server::Own(_) => "in-process, temporary store".to_owned(),
            Server::Echo(_) => "echo: a minimal hyper server answering a fixed outcome line (no routes, users, parsing, store or fsync)".to_owned(),
        }
    }
}

/// Runs `ets bench http` against the server it starts (or the one `--url`
/// names) and prints the figures as JSON.
///
/// # Errors
/// Arguments out of range, a server that cannot be started or reached, or a
/// setup command refused.
pub fn run(args: HttpArgs) -> Result<ExitCode> {
    if args.connections == 0 || args.batch == 0 || args.pipeline == 0 || args.accounts < 2 {
        bail!("--connections, --batch and --pipeline must be positive and --accounts at least 2");
    }
    let (server, target) = match &args.url {
        Some(url) => (
            Server::Remote(args.server_pid),
            Target {
                base: url.trim_end_matches('/').to_owned(),
                admin: args.token.clone().context("--url needs --token")?,
                exchange: args
                    .exchange_token
                    .clone()
                    .context("--url needs --exchange-token")?,
                admin_participant: args.admin_participant,
                exchange_participant: args.exchange_participant,
            },
        ),
        None if args.echo => {
            let (running, address) = echo::Echo::start(args.server_runtime())?;
            let target = Target {
                base: format!("http://{address}"),
                admin: "echo".to_owned(),
                exchange: "echo".to_owned(),
                admin_participant: 1,
                exchange_participant: 2,
            };
            (Server::Echo(running), target)
        }
        None => {
            let (running, target) = InProcess::start(args.server_runtime())?;
            (Server::Own(running), target)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()?;
    let result = runtime.block_on(drive(&args, &target, &server));
    drop(server);
    let report = result?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// The server this process started, stopped when dropped.
struct InProcess {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl InProcess {
    /// Starts `ets serve`'s server on a temporary store, on a runtime built with `settings`.
    fn start(settings: ets_server::RuntimeSettings) -> Result<(InProcess, Target)> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("store");
        drop(ets_store::Store::create(
            &data,
            ets_store::StoreConfig::default(),
        )?);
        Users::add_user(
            &data,
            "admin",
            PASSWORD,
            ParticipantId(1),
            Role::Administrator,
        )?;
        Users::add_user(
            &data,
            "exchange",
            PASSWORD,
            ParticipantId(2),
            Role::ExchangeMember,
        )?;
        let admin = Users::issue_token(&data, "admin")?;
        let exchange = Users::issue_token(&data, "exchange")?;
        let mut config = ServerConfig::new(data, "127.0.0.1:0".parse()?);
        // Two users send every request, so the per-user limit (5,000 requests/s)
        // would measure the limiter, not the server: the bench's own server lifts it.
        config.rate_limit.requests_per_second = 1e9;
        config.rate_limit.requests_burst = 1e9;
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        let (shutdown, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let Ok(runtime) = ets_server::runtime(settings) else {
                    return;
                };
                let served = runtime.block_on(ets_server::serve(
                    config,
                    move |address| {
                        let _ = address_sender.send(address);
                    },
                    async move {
                        let _ = shutdown_receiver.await;
                    },
                ));
                if let Err(error) = served {
                    eprintln!("the bench's server stopped: {error}");
                }
            })?;
        let address = address_receiver
            .recv_timeout(Duration::from_secs(30))
            .context("the server did not start")?;
        let running = InProcess {
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
        };
        let target = Target {
            base: format!("http://{address}"),
            admin: admin.clone(),
            exchange,
            admin_participant: 1,
            exchange_participant: 2,
        };
        Ok((running, target))
    }
}

/// One answer: status and body.
async fn send(client: &HttpClient, url: &str, token: &str, body: String) -> Result<(u16, Bytes)> {
    let request = hyper::Request::post(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Sends setup commands as one batch and fails on any refusal.
async fn setup_batch(
    client: &HttpClient,
    target: &Target,
    token: &str,
    lines: &[Value],
) -> Result<()> {
    let body = lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let url = format!("{}/api/commands/batch", target.base);
    let (status, answer) = send(client, &url, token, body).await?;
    if status != 200 {
        bail!(
            "setup refused with {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let outcomes: Vec<Value> = serde_json::from_slice(&answer)?;
    for outcome in outcomes {
        if outcome["ok"] != true && outcome["code"] != "participant_exists" {
            bail!("setup command refused: {outcome}");
        }
    }
    Ok(())
}

async fn setup(client: &HttpClient, target: &Target, layout: Layout) -> Result<()> {
    let admin = target.admin_participant;
    let mut request = layout.base * 10;
    let mut next = || {
        request += 1;
        request
    };
    let mut lines = Vec::new();
    // Refused with participant_exists (and tolerated) on a store that has them.
    lines.push(json!({"request_id":next(),"requester":admin,"command":"register_participant","id":admin,"kind":"administrator","name":"Bench administrator"}));
    lines.push(json!({"request_id":next(),"requester":admin,"command":"register_participant","id":target.exchange_participant,"kind":"exchange","name":"Bench exchange"}));
    // One trading account per participant: each account's holder has its id.
    lines.push(json!({"request_id":next(),"requester":admin,"command":"open_account","id":layout.issuance(),"kind":"issuance","holder":admin,"representatives":[admin]}));
    lines.push(json!({"request_id":next(),"requester":admin,"command":"open_account","id":layout.fees(),"kind":"trading","holder":target.exchange_participant,"representatives":[admin]}));
    let units = 1_000_000_000_u64;
    // In issues of at most what one command may issue.
    let most = ets_model::Quantity::MAX_PER_COMMAND.tonnes();
    let mut to_issue = units * (layout.accounts + 1);
    while to_issue > 0 {
        let quantity = to_issue.min(most);
        lines.push(json!({"request_id":next(),"requester":admin,"command":"issue","unit":"CEA-2021","quantity":quantity}));
        to_issue -= quantity;
    }
    for index in 0..layout.accounts {
        let account = layout.account(index);
        lines.push(json!({"request_id":next(),"requester":admin,"command":"register_participant","id":account,"kind":"institution","name":format!("Bench trader {index}")}));
        lines.push(json!({"request_id":next(),"requester":admin,"command":"open_account","id":account,"kind":"trading","holder":account,"representatives":[admin]}));
        lines.push(json!({"request_id":next(),"requester":admin,"command":"transfer","from":layout.issuance(),"to":account,"unit":"CEA-2021","quantity":units}));
    }
    lines.push(json!({"request_id":next(),"requester":admin,"command":"list_instrument","symbol":layout.symbol(),"unit":"CEA-2021","mode":"continuous","rules":"continuous","reference_price_ticks":PRICE_TICKS,"fee_bps":0,"fee_account":layout.fees(),"no_same_day_resale":false,"market_data":"eu"}));
    for chunk in lines.chunks(5_000) {
        setup_batch(client, target, &target.admin, chunk).await?;
    }
    let deposits: Vec<Value> = (0..layout.accounts)
        .map(|index| json!({"request_id":next(),"requester":target.exchange_participant,"command":"deposit_cash","account":layout.account(index),"amount_minor_units":1_000_000_000_000_i64}))
        .collect();
    for chunk in deposits.chunks(5_000) {
        setup_batch(client, target, &target.exchange, chunk).await?;
    }
    Ok(())
}

/// The `n`th command of connection `connection`: transfers and orders in
/// turn (a day sell at the reference price, then an IOC buy at it, which
/// trades against a resting sell when there is one).
fn command(layout: Layout, connection: u64, n: u64, request_id: u64) -> String {
    let admin = layout.admin;
    let from = layout.account(connection.wrapping_mul(7_919).wrapping_add(n));
    let to = layout.account(
        connection
            .wrapping_mul(7_919)
            .wrapping_add(n)
            .wrapping_add(1),
    );
    let symbol = layout.symbol();
    match n % 4 {
        0 | 2 => format!(
            r#"{{"request_id":{request_id},"requester":{admin},"command":"transfer","from":{from},"to":{to},"unit":"CEA-2021","quantity":1}}"#
        ),
        1 => format!(
            r#"{{"request_id":{request_id},"requester":{admin},"command":"place_order","instrument":"{symbol}","account":{from},"side":"sell","kind":{{"limit":{PRICE_TICKS}}},"quantity":1,"time_in_force":"day"}}"#
        ),
        _ => format!(
            r#"{{"request_id":{request_id},"requester":{admin},"command":"place_order","instrument":"{symbol}","account":{to},"side":"buy","kind":{{"limit":{PRICE_TICKS}}},"quantity":1,"time_in_force":"ioc"}}"#
        ),
    }
}

/// What one connection counted.
#[derive(Default)]
struct Tally {
    requests: u64,
    durable: u64,
    refused: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    let count = haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// How each connection sends: commands per request, requests per round.
#[derive(Clone, Copy)]
struct Shape {
    batch: usize,
    pipeline: usize,
}

/// Where and as whom the connections send.
struct Endpoint {
    address: std::net::SocketAddr,
    host: String,
    path: &'static str,
    token: String,
}

impl Tally {
    /// Counts one answer: durable outcomes and refusals in a journaled
    /// answer, an error otherwise.
    fn count(&mut self, status: u16, body: &[u8]) {
        match status {
            // 200 and the engine's refusals (403, 404, 409, 422) were journaled.
            200 | 403 | 404 | 409 | 422 => {
                self.durable += occurrences(body, b"\"sequence\":");
                self.refused += occurrences(body, b"\"ok\":false");
            }
            _ => {
                self.errors += 1;
                self.first_error
                    .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(body)));
            }
        }
    }

    fn fail(&mut self, requests: u64, error: &anyhow::Error) {
        self.requests += requests;
        self.errors += requests;
        self.first_error.get_or_insert_with(|| format!("{error:#}"));
    }
}

/// Sends one round (`shape.pipeline` requests written at once) and reads
/// its answers, timing each from the write.
async fn round(wire: &mut wire::Wire, bodies: &[String], tally: &mut Tally) -> Result<()> {
    for body in bodies {
        wire.queue(body);
    }
    let started = Instant::now();
    wire.flush().await?;
    for _ in bodies {
        let answer = wire.answer().await?;
        let elapsed = started.elapsed();
        tally.requests += 1;
        tally
            .latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        tally.count(answer.status, wire.body(&answer));
    }
    Ok(())
}

async fn connection_loop(
    endpoint: Arc<Endpoint>,
    layout: Layout,
    connection: u64,
    shape: Shape,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut n = 0_u64;
    let request_base = layout.base * 10 + 1_000_000_000 * (connection + 1);
    let mut open: Option<wire::Wire> = None;
    let mut bodies = vec![String::new(); shape.pipeline];
    while !stop.load(Ordering::Relaxed) {
        let wire = match open.as_mut() {
            Some(wire) => wire,
            None => {
                let connected = wire::Wire::connect(
                    endpoint.address,
                    &endpoint.host,
                    endpoint.path,
                    &endpoint.token,
                )
                .await;
                match connected {
                    Ok(wire) => open.insert(wire),
                    Err(error) => {
                        tally.fail(1, &error);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
        };
        for body in &mut bodies {
            body.clear();
            for _ in 0..shape.batch {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(&command(layout, connection, n, request_base + n));
                n += 1;
            }
        }
        let answered = tally.requests;
        if let Err(error) = round(wire, &bodies, &mut tally).await {
            // The unanswered requests of the round failed; start a new connection.
            let unanswered = bodies.len() as u64 - (tally.requests - answered);
            tally.fail(unanswered, &error);
            open = None;
        }
    }
    tally
}

fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a sorted sample"
    )]
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1_000.0
}

/// The sum and count of the server's group commit sizes, if its metrics can be read.
async fn group_commits(client: &HttpClient, base: &str) -> Option<(f64, f64)> {
    let uri: hyper::Uri = format!("{base}/metrics").parse().ok()?;
    let response = client.get(uri).await.ok()?;
    let text = response.into_body().collect().await.ok()?.to_bytes();
    let text = String::from_utf8_lossy(&text);
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().parse::<f64>().ok())
    };
    Some((
        value("ets_batch_size_commands_sum ")?,
        value("ets_batch_size_commands_count ")?,
    ))
}

/// What the measured seconds gave.
struct Measured {
    total: Tally,
    seconds: f64,
    /// The server's and the client's CPU seconds over the run, when readable.
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    /// Of the server's, the history writer thread's (the bench's own server only).
    history_cpu: Option<f64>,
}

/// Runs the connections for `args.seconds` and adds up what they counted.
async fn measure(
    args: &HttpArgs,
    endpoint: Endpoint,
    layout: Layout,
    server: &Server,
) -> Result<Measured> {
    let endpoint = Arc::new(endpoint);
    let shape = Shape {
        batch: args.batch,
        pipeline: args.pipeline,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let server_before = server.cpu_seconds();
    let client_before = cpu::threads_seconds(&[CLIENT_THREADS]);
    let history_before = server.history_cpu_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|connection| {
            tokio::spawn(connection_loop(
                Arc::clone(&endpoint),
                layout,
                u64::try_from(connection).unwrap_or(u64::MAX),
                shape,
                Arc::clone(&stop),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds.max(0.1))).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await?;
        total.requests += tally.requests;
        total.durable += tally.durable;
        total.refused += tally.refused;
        total.errors += tally.errors;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
        total.latencies_us.extend(tally.latencies_us);
    }
    let seconds = started.elapsed().as_secs_f64();
    let spent = |before: Option<f64>, after: Option<f64>| before.zip(after).map(|(b, a)| a - b);
    Ok(Measured {
        total,
        seconds,
        server_cpu: spent(server_before, server.cpu_seconds()),
        client_cpu: spent(client_before, cpu::threads_seconds(&[CLIENT_THREADS])),
        history_cpu: spent(history_before, server.history_cpu_seconds()),
    })
}

/// The address, `Host` and path the measured requests go to.
async fn endpoint(args: &HttpArgs, target: &Target) -> Result<Endpoint> {
    let host = wire::authority(&target.base)?.to_owned();
    let address = tokio::net::lookup_host(&host)
        .await?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok(Endpoint {
        address,
        host,
        path: if args.batch == 1 {
            "/api/commands"
        } else {
            "/api/commands/batch"
        },
        token: target.admin.clone(),
    })
}

async fn drive(args: &HttpArgs, target: &Target, server: &Server) -> Result<Value> {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.connections)
        .build_http();
    let base = args.id_base.unwrap_or_else(|| {
        if matches!(server, Server::Remote(_)) {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            (seconds % 1_000_000) * 1_000_000
        } else {
            1_000
        }
    });
    let layout = Layout {
        base,
        accounts: args.accounts,
        admin: target.admin_participant,
    };
    let setup_started = Instant::now();
    if !matches!(server, Server::Echo(_)) {
        setup(&client, target, layout).await?;
    }
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let commits_before = group_commits(&client, &target.base).await;
    let endpoint = endpoint(args, target).await?;
    let measured = measure(args, endpoint, layout, server).await?;
    let commits_after = group_commits(&client, &target.base).await;
    let mean_group_commit =
        commits_before
            .zip(commits_after)
            .and_then(|((sum0, count0), (sum1, count1))| {
                (count1 > count0).then(|| (sum1 - sum0) / (count1 - count0))
            });
    let mut report = report(args, &measured);
    report["server"] = json!(server.describe(target));
    report["setup_seconds"] = json!(setup_seconds);
    report["mean_group_commit_commands"] = json!(mean_group_commit);
    Ok(report)
}

/// The figures of a run, as JSON.
fn report(args: &HttpArgs, measured: &Measured) -> Value {
    let Measured { total, seconds, .. } = measured;
    let mut latencies = total.latencies_us.clone();
    latencies.sort_unstable();
    let max_ms = f64::from(latencies.last().copied().unwrap_or(0)) / 1_000.0;
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_second = |count: u64| count as f64 / seconds;
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_request_us = |cpu: Option<f64>| cpu.map(|cpu| cpu * 1e6 / total.requests.max(1) as f64);
    json!({
        "bench": "http",
        "connections": args.connections,
        "commands_per_request": args.batch,
        "pipeline": args.pipeline,
        "endpoint": if args.batch == 1 { "/api/commands" } else { "/api/commands/batch" },
        "workload": "transfer, sell (day), transfer, buy (ioc); 1 t each",
        "accounts": args.accounts,
        "seconds": seconds,
        "requests": total.requests,
        "requests_per_second": per_second(total.requests),
        "durable_commands": total.durable,
        "durable_commands_per_second": per_second(total.durable),
        "refused_by_engine_or_checks": total.refused,
        "errors": total.errors,
        "errors_mean": "transport failures and answers other than 200, 403, 404, 409, 422",
        "first_error": total.first_error,
        "latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p99": percentile(&latencies, 0.99),
            "p99_9": percentile(&latencies, 0.999),
            "max": max_ms,
        },
        "server_cpu_seconds": measured.server_cpu,
        "server_cpu_us_per_request": per_request_us(measured.server_cpu),
        "client_cpu_seconds": measured.client_cpu,
        "client_cpu_us_per_request": per_request_us(measured.client_cpu),
        "history_writer_cpu_us_per_request": per_request_us(measured.history_cpu),
        "cpu_mean": "user + system time over the measured seconds (Linux /proc); the server's needs --server-pid with --url",
    })
}
