//! `ets bench http`: transfers and orders over HTTP against a real `ets
//! serve`, from N concurrent keep-alive connections, closed loop (each
//! connection sends its next request when the previous one is answered).
//! By default the bench starts the server itself, in this process, on a
//! temporary store; `--url` drives an existing one. Prints JSON figures
//! (requests/s, durable commands/s, latency percentiles, errors); asserts
//! nothing about time.

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
}

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

pub fn run(args: HttpArgs) -> Result<ExitCode> {
    if args.connections == 0 || args.batch == 0 || args.accounts < 2 {
        bail!("--connections and --batch must be positive and --accounts at least 2");
    }
    let mut server = None;
    let target = match &args.url {
        Some(url) => Target {
            base: url.trim_end_matches('/').to_owned(),
            admin: args.token.clone().context("--url needs --token")?,
            exchange: args
                .exchange_token
                .clone()
                .context("--url needs --exchange-token")?,
            admin_participant: args.admin_participant,
            exchange_participant: args.exchange_participant,
        },
        None => {
            let (running, target) = InProcess::start()?;
            server = Some(running);
            target
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(drive(&args, &target, server.is_some()));
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
    fn start() -> Result<(InProcess, Target)> {
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
        let config = ServerConfig::new(data, "127.0.0.1:0".parse()?);
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        let (shutdown, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
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
    lines.push(json!({"request_id":next(),"requester":admin,"command":"issue","unit":"CEA-2021","quantity":units * (layout.accounts + 1)}));
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

async fn connection_loop(
    client: HttpClient,
    target: Arc<Target>,
    layout: Layout,
    connection: u64,
    batch: usize,
    stop: Arc<AtomicBool>,
) -> Tally {
    let url = if batch == 1 {
        format!("{}/api/commands", target.base)
    } else {
        format!("{}/api/commands/batch", target.base)
    };
    let mut tally = Tally::default();
    let mut n = 0_u64;
    let request_base = layout.base * 10 + 1_000_000_000 * (connection + 1);
    while !stop.load(Ordering::Relaxed) {
        let mut body = String::new();
        for _ in 0..batch {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(&command(layout, connection, n, request_base + n));
            n += 1;
        }
        let started = Instant::now();
        let answer = send(&client, &url, &target.admin, body).await;
        let elapsed = started.elapsed();
        tally.requests += 1;
        tally
            .latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        match answer {
            // 200 and the engine's refusals (403, 404, 409, 422) were journaled.
            Ok((200 | 403 | 404 | 409 | 422, body)) => {
                tally.durable += occurrences(&body, b"\"sequence\":");
                tally.refused += occurrences(&body, b"\"ok\":false");
            }
            Ok((status, body)) => {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            Err(error) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| error.to_string());
            }
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

async fn drive(args: &HttpArgs, target: &Target, fresh_store: bool) -> Result<Value> {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.connections)
        .build_http();
    let base = args.id_base.unwrap_or_else(|| {
        if fresh_store {
            1_000
        } else {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            (seconds % 1_000_000) * 1_000_000
        }
    });
    let layout = Layout {
        base,
        accounts: args.accounts,
        admin: target.admin_participant,
    };
    let setup_started = Instant::now();
    setup(&client, target, layout).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let commits_before = group_commits(&client, &target.base).await;
    let target = Arc::new(target.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|connection| {
            tokio::spawn(connection_loop(
                client.clone(),
                Arc::clone(&target),
                layout,
                u64::try_from(connection).unwrap_or(u64::MAX),
                args.batch,
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
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let max_ms = f64::from(total.latencies_us.last().copied().unwrap_or(0)) / 1_000.0;
    let commits_after = group_commits(&client, &target.base).await;
    let mean_group_commit =
        commits_before
            .zip(commits_after)
            .and_then(|((sum0, count0), (sum1, count1))| {
                (count1 > count0).then(|| (sum1 - sum0) / (count1 - count0))
            });
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_second = |count: u64| count as f64 / elapsed;
    Ok(json!({
        "bench": "http",
        "server": if args.url.is_some() { target.base.as_str() } else { "in-process, temporary store" },
        "connections": args.connections,
        "commands_per_request": args.batch,
        "endpoint": if args.batch == 1 { "/api/commands" } else { "/api/commands/batch" },
        "workload": "transfer, sell (day), transfer, buy (ioc); 1 t each",
        "accounts": args.accounts,
        "setup_seconds": setup_seconds,
        "seconds": elapsed,
        "requests": total.requests,
        "requests_per_second": per_second(total.requests),
        "durable_commands": total.durable,
        "durable_commands_per_second": per_second(total.durable),
        "refused_by_engine_or_checks": total.refused,
        "errors": total.errors,
        "errors_mean": "transport failures and answers other than 200, 403, 404, 409, 422",
        "first_error": total.first_error,
        "latency_ms": {
            "p50": percentile(&total.latencies_us, 0.50),
            "p99": percentile(&total.latencies_us, 0.99),
            "p99_9": percentile(&total.latencies_us, 0.999),
            "max": max_ms,
        },
        "mean_group_commit_commands": mean_group_commit,
    }))
}
