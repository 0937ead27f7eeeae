//! Tests of the web UI (`/ui`) served in-process on 127.0.0.1: through plain
//! HTTP (sign-in, sessions, CSRF, who sees what, public pages, idempotent
//! forms) and through a real headless Chromium driven over WebDriver (a
//! four-eyes transfer proposed by one representative and approved by the
//! other).
//!
//! The browser test needs `chromium` and `chromium-driver` (Debian). Without
//! them it prints a line and passes, unless `ETS_BROWSER_TEST=required`
//! (set by `.ci/run`), which makes their absence a failure.

use ets_server::Role;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::{PASSWORD, Server};

/// The registry every test starts from:
/// - participant 1, the administrator; 3, the exchange operator (its
///   trading account 3 takes the fees);
/// - 10 and 11, the two representatives of account 100 (operator holding of
///   participant 10), which needs both to sign (2 of 2), holding 1,000 t;
/// - 20, the institution holding trading account 200 (1 of 1);
/// - 30, a covered entity with account 300 (1 of 1), holding 1,000 t;
/// - instrument CEA21 with two trades (at 50.00 and 51.00) and a resting
///   bid and ask.
const SETUP: &[&str] = &[
    r#"{"request_id":1,"requester":1,"command":"register_participant","id":1,"kind":"administrator","name":"MEE"}"#,
    r#"{"request_id":2,"requester":1,"command":"register_participant","id":3,"kind":"exchange","name":"SEEE"}"#,
    r#"{"request_id":3,"requester":1,"command":"register_participant","id":10,"kind":"covered_entity","name":"Plant"}"#,
    r#"{"request_id":4,"requester":1,"command":"register_participant","id":11,"kind":"individual","name":"Second signer"}"#,
    r#"{"request_id":5,"requester":1,"command":"register_participant","id":20,"kind":"institution","name":"Fund"}"#,
    r#"{"request_id":6,"requester":1,"command":"register_participant","id":30,"kind":"covered_entity","name":"Mill"}"#,
    r#"{"request_id":7,"requester":1,"command":"open_account","id":1,"kind":"issuance","holder":1,"representatives":[1]}"#,
    r#"{"request_id":8,"requester":1,"command":"open_account","id":100,"kind":"operator_holding","holder":10,"representatives":[10,11],"approvals_required":2}"#,
    r#"{"request_id":9,"requester":1,"command":"open_account","id":200,"kind":"trading","holder":20,"representatives":[20]}"#,
    r#"{"request_id":10,"requester":1,"command":"open_account","id":300,"kind":"operator_holding","holder":30,"representatives":[30]}"#,
    r#"{"request_id":21,"requester":1,"command":"open_account","id":3,"kind":"trading","holder":3,"representatives":[3]}"#,
    r#"{"request_id":11,"requester":1,"command":"issue","unit":"CEA-2021","quantity":1000000}"#,
    r#"{"request_id":12,"requester":1,"command":"allocate","to":100,"unit":"CEA-2021","quantity":1000}"#,
    r#"{"request_id":13,"requester":1,"command":"allocate","to":300,"unit":"CEA-2021","quantity":1000}"#,
    r#"{"request_id":14,"requester":1,"command":"list_instrument","symbol":"CEA21","unit":"CEA-2021","mode":"continuous","rules":"continuous","reference_price_ticks":5000,"fee_bps":0,"fee_account":3,"no_same_day_resale":false,"market_data":"eu"}"#,
    r#"{"request_id":15,"requester":3,"command":"deposit_cash","account":200,"amount_minor_units":100000000}"#,
    r#"{"request_id":16,"requester":30,"command":"place_order","instrument":"CEA21","account":300,"side":"sell","kind":{"limit":5000},"quantity":40,"time_in_force":"day"}"#,
    r#"{"request_id":17,"requester":20,"command":"place_order","instrument":"CEA21","account":200,"side":"buy","kind":{"limit":5000},"quantity":40,"time_in_force":"day"}"#,
    r#"{"request_id":18,"requester":30,"command":"place_order","instrument":"CEA21","account":300,"side":"sell","kind":{"limit":5100},"quantity":70,"time_in_force":"day"}"#,
    r#"{"request_id":19,"requester":20,"command":"place_order","instrument":"CEA21","account":200,"side":"buy","kind":{"limit":5100},"quantity":20,"time_in_force":"day"}"#,
    r#"{"request_id":20,"requester":20,"command":"place_order","instrument":"CEA21","account":200,"side":"buy","kind":{"limit":4900},"quantity":15,"time_in_force":"day"}"#,
];

/// The compliance part of the setup: participant 2 is a verifier; account
/// 100's holder is a covered entity under China's 2021 rulebook and has
/// submitted its 2021 emissions report.
fn compliance_setup() -> Vec<String> {
    let rulebook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemes/cn-power-2021.toml");
    let toml = std::fs::read_to_string(&rulebook).expect("the committed rulebook");
    vec![
        serde_json::json!({"request_id":40,"requester":1,"command":"register_participant","id":2,"kind":"verifier","name":"Verifier Co"}).to_string(),
        serde_json::json!({"request_id":41,"requester":1,"command":"load_rulebook","source_name":"cn-power-2021.toml","toml":toml}).to_string(),
        r#"{"request_id":42,"requester":1,"command":"register_entities","scheme":"cn-power-2021","entities":[{"participant":10,"account":100,"units":[{"unit":"U1","category":"coal_above_300mw","capacity_mw":600,"cooling":"water","combined_heat_and_power":false}]}]}"#.to_owned(),
        r#"{"request_id":43,"requester":10,"command":"submit_report","entity":10,"year":2021,"fuels":[{"kind":"coal","consumed":"500000","net_calorific_value":"20","carbon_content":"0.0270","oxidation_rate":"0.99"}],"purchased_electricity_mwh":"0"}"#.to_owned(),
    ]
}

/// Applies [`SETUP`] and [`compliance_setup`] to a fresh store in `data`,
/// checking every command is accepted.
fn set_up_store(data: &Path) {
    let mut store =
        ets_store::Store::create(data, ets_store::StoreConfig::default()).expect("store");
    let lines: Vec<String> = SETUP
        .iter()
        .map(|line| (*line).to_owned())
        .chain(compliance_setup())
        .collect();
    let submissions: Vec<ets_store::Submission> = lines
        .iter()
        .map(|line| {
            let request = ets_api::parse_request(line).expect("setup line parses");
            ets_store::Submission {
                request_id: request.request_id,
                requester: request.requester,
                time: request.time,
                command: request.command,
            }
        })
        .collect();
    let replies = store
        .submit(&submissions, ets_store::wall_clock_now())
        .expect("setup is durable");
    for (line, reply) in lines.iter().zip(replies) {
        assert!(
            matches!(reply.outcome, ets_engine::Outcome::Accepted(_)),
            "{line}: {:?}",
            reply.outcome
        );
    }
}

/// A served store after [`set_up_store`], with users `admin` (1),
/// `verifier` (2), `rep-a` (10), `rep-b` (11), `fund` (20) and `auditor` (99).
fn start() -> Server {
    start_at(ets_server::ServerClock::wall())
}

/// [`start`] with the server's clock at `clock`.
fn start_at(clock: ets_server::ServerClock) -> Server {
    let users = [
        ("admin", 1, Role::Administrator),
        ("verifier", 2, Role::Verifier),
        ("rep-a", 10, Role::Representative),
        ("rep-b", 11, Role::Representative),
        ("fund", 20, Role::Representative),
        ("auditor", 99, Role::Auditor),
    ];
    common::start_prepared(&users, set_up_store, move |config, _| {
        config.sequencer.clock = clock;
    })
}

// ---------------------------------------------------------------- plain HTTP

/// An answer: status, body, the `Set-Cookie` and `Location` headers.
struct Page {
    status: u16,
    body: String,
    set_cookie: Option<String>,
    location: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
    let mut response = response.expect("request completes");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII").to_owned())
    };
    let set_cookie = header("set-cookie");
    let location = header("location");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().expect("body");
    Page {
        status,
        body,
        set_cookie,
        location,
    }
}

fn get(server: &Server, cookie: Option<&str>, path: &str) -> Page {
    get_at(&server.base, cookie, path)
}

fn get_at(base: &str, cookie: Option<&str>, path: &str) -> Page {
    let mut request = agent().get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    finish(request.call())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn post(server: &Server, cookie: Option<&str>, path: &str, fields: &[(&str, &str)]) -> Page {
    post_at(&server.base, cookie, path, fields)
}

fn post_at(base: &str, cookie: Option<&str>, path: &str, fields: &[(&str, &str)]) -> Page {
    let body = fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = agent()
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    finish(request.send(body))
}

/// Signs in and gives the `Cookie` header value of the new session.
fn sign_in(server: &Server, name: &str) -> String {
    sign_in_at(&server.base, name)
}

fn sign_in_at(base: &str, name: &str) -> String {
    let page = post_at(
        base,
        None,
        "/ui/login",
        &[("name", name), ("password", PASSWORD)],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let set_cookie = page.set_cookie.expect("a session cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    set_cookie.split(';').next().expect("name=value").to_owned()
}

/// The value of the first hidden input named `name` on the page.
fn hidden_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).expect("the field is on the page") + marker.len();
    let end = body[start..].find('"').expect("the value ends") + start;
    body[start..end].to_owned()
}

/// The total of `unit` shown on account `id`'s page, as the page prints it.
fn total_shown(server: &Server, cookie: &str, id: u64, unit: &str) -> String {
    let page = get(server, Some(cookie), &format!("/ui/accounts/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = format!("data-unit=\"{unit}\" data-field=\"total\">");
    let start = page.body.find(&marker).expect("a holding of the unit") + marker.len();
    let end = page.body[start..].find('<').expect("the cell ends") + start;
    page.body[start..end].to_owned()
}

#[test]
fn a_wrong_password_shows_an_error_and_sets_no_cookie() {
    // Goal: a failed sign-in answers 401 with the sign-in form and a message
    // that does not say whether the name exists, and starts no session.
    let server = start();
    for (name, password) in [("rep-a", "not the password"), ("nobody", PASSWORD)] {
        let page = post(
            &server,
            None,
            "/ui/login",
            &[("name", name), ("password", password)],
        );
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(
            page.body
                .contains("The user name or the password is wrong.")
        );
        assert_eq!(page.set_cookie, None);
    }
    let home = get(&server, Some("ets_session=made-up"), "/ui");
    assert!(home.body.contains("Sign in"), "a made-up session is nobody");
}

#[test]
fn repeated_failed_ui_sign_ins_are_throttled_even_with_the_right_password() {
    // Goal: the web form shares the API's throttle: after five failures for
    // one name the sixth attempt is answered 429 with Retry-After, without
    // checking the password (so the right one is refused too), and no session
    // is started; another user is not affected.
    let server = start();
    for _ in 0..5 {
        let page = post(
            &server,
            None,
            "/ui/login",
            &[("name", "rep-a"), ("password", "guess")],
        );
        assert_eq!(page.status, 401, "{}", page.body);
    }
    let page = post(
        &server,
        None,
        "/ui/login",
        &[("name", "rep-a"), ("password", PASSWORD)],
    );
    assert_eq!(page.status, 429, "{}", page.body);
    assert_eq!(page.set_cookie, None);
    let other = post(
        &server,
        None,
        "/ui/login",
        &[("name", "rep-b"), ("password", PASSWORD)],
    );
    assert!(other.set_cookie.is_some(), "rep-b still signs in");
}

#[test]
fn a_representative_neither_sees_nor_moves_units_of_an_account_it_does_not_represent() {
    // Goal: the fund's user gets not_representative for account 100's page,
    // and its transfer from 100 is refused by the engine with the engine's
    // code and message on the page; account 100 keeps its 1,000 t.
    let server = start();
    let fund = sign_in(&server, "fund");
    let page = get(&server, Some(&fund), "/ui/accounts/100");
    assert_eq!(page.status, 403);
    assert!(page.body.contains("not_representative"), "{}", page.body);
    assert!(!page.body.contains("data-field=\"total\""));

    let home = get(&server, Some(&fund), "/ui");
    assert!(home.body.contains("Account 200"), "{}", home.body);
    assert!(!home.body.contains("Account 100"));
    let csrf = hidden_value(&home.body, "csrf");
    let request_id = hidden_value(&home.body, "request_id");
    let refused = post(
        &server,
        Some(&fund),
        "/ui/transfer",
        &[
            ("csrf", &csrf),
            ("request_id", &request_id),
            ("from", "100"),
            ("to", "200"),
            ("unit", "CEA-2021"),
            ("quantity", "10"),
        ],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("not_representative"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("participant 20"), "{}", refused.body);

    let rep_a = sign_in(&server, "rep-a");
    assert_eq!(total_shown(&server, &rep_a, 100, "CEA-2021"), "1,000");
}

#[test]
fn a_form_without_the_session_csrf_token_is_refused() {
    // Goal: with a valid session, a form with no or a wrong CSRF token gets
    // 403 csrf_mismatch and changes nothing; without a session, 401.
    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let request_id = hidden_value(&home.body, "request_id");
    let transfer = |csrf: Option<&str>, cookie: Option<&str>| {
        let mut fields = vec![
            ("request_id", request_id.as_str()),
            ("from", "100"),
            ("to", "200"),
            ("unit", "CEA-2021"),
            ("quantity", "10"),
        ];
        if let Some(csrf) = csrf {
            fields.push(("csrf", csrf));
        }
        post(&server, cookie, "/ui/transfer", &fields)
    };
    for csrf in [None, Some("wrong-token")] {
        let page = transfer(csrf, Some(&rep_a));
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("csrf_mismatch"), "{}", page.body);
    }
    let csrf = hidden_value(&home.body, "csrf");
    let page = transfer(Some(&csrf), None);
    assert_eq!(page.status, 401, "{}", page.body);
    let logout = post(&server, Some(&rep_a), "/ui/logout", &[]);
    assert_eq!(logout.status, 403, "signing out needs the token too");
    let page = get(&server, Some(&rep_a), "/ui");
    assert!(!page.body.contains("awaiting_approval") && !page.body.contains("pending-"));
    assert_eq!(total_shown(&server, &rep_a, 100, "CEA-2021"), "1,000");
}

#[test]
fn a_form_sent_twice_is_applied_once() {
    // Goal: the request id drawn into the form makes a resent form return
    // the first outcome (marked as such) instead of proposing again.
    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let csrf = hidden_value(&home.body, "csrf");
    let request_id = hidden_value(&home.body, "request_id");
    let fields = [
        ("csrf", csrf.as_str()),
        ("request_id", request_id.as_str()),
        ("from", "100"),
        ("to", "200"),
        ("unit", "CEA-2021"),
        ("quantity", "300"),
    ];
    let first = post(&server, Some(&rep_a), "/ui/transfer", &fields);
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("awaiting_approval"), "{}", first.body);
    assert!(!first.body.contains("had been sent before"));
    let second = post(&server, Some(&rep_a), "/ui/transfer", &fields);
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(
        second.body.contains("had been sent before"),
        "{}",
        second.body
    );
    let home = get(&server, Some(&rep_a), "/ui");
    assert_eq!(
        home.body.matches("id=\"pending-").count(),
        1,
        "{}",
        home.body
    );
}

#[test]
fn public_pages_need_no_sign_in_and_private_ones_do() {
    // Goal: the home, market and compliance pages answer without a session
    // (the market page with its book, trades and SVG chart); the
    // administration page sends a visitor to the sign-in page; the
    // stylesheet is served and pages fit a phone (viewport meta).
    let server = start();
    for path in ["/ui", "/ui/market", "/ui/compliance", "/ui/login"] {
        let page = get(&server, None, path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("name=\"viewport\""), "{path}");
    }
    let market = get(&server, None, "/ui/market");
    for needle in [
        "CEA21",
        "<svg",
        "<polyline",
        "Bids",
        "49.00",
        "51.00",
        "50.00",
    ] {
        assert!(market.body.contains(needle), "{needle}: {}", market.body);
    }
    let css = get(&server, None, "/ui/static/ui.css");
    assert_eq!(css.status, 200);
    assert!(css.body.contains("@media"));
    for path in ["/ui/admin", "/ui/reports", "/ui/accounts/100"] {
        let page = get(&server, None, path);
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/ui/login"), "{path}");
    }
}

#[test]
fn the_administrator_issues_through_the_form_and_others_may_not() {
    // Goal: the administrator's issue form sends the issue command (the
    // issued total grows); a representative's user gets role_forbids for the
    // same form and an auditor may read accounts but not send commands.
    let server = start();
    let admin = sign_in(&server, "admin");
    let page = get(&server, Some(&admin), "/ui/admin");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("1,000,000"), "{}", page.body);
    let csrf = hidden_value(&page.body, "csrf");
    let request_id = hidden_value(&page.body, "request_id");
    let issued = post(
        &server,
        Some(&admin),
        "/ui/admin/issue",
        &[
            ("csrf", &csrf),
            ("request_id", &request_id),
            ("unit", "CEA-2021"),
            ("quantity", "5000"),
        ],
    );
    assert_eq!(issued.status, 200, "{}", issued.body);
    let page = get(&server, Some(&admin), "/ui/admin");
    assert!(page.body.contains("1,005,000"), "{}", page.body);

    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let refused = post(
        &server,
        Some(&rep_a),
        "/ui/admin/issue",
        &[
            ("csrf", &hidden_value(&home.body, "csrf")),
            ("request_id", &hidden_value(&home.body, "request_id")),
            ("unit", "CEA-2021"),
            ("quantity", "5000"),
        ],
    );
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("role_forbids"), "{}", refused.body);
    assert_eq!(get(&server, Some(&rep_a), "/ui/admin").status, 403);

    let auditor = sign_in(&server, "auditor");
    assert_eq!(total_shown(&server, &auditor, 300, "CEA-2021"), "940");
}

#[test]
fn a_verifier_accepts_a_report_and_the_public_results_show_it() {
    // Goal: the verifier's page lists the submitted report with its computed
    // emissions; accepting it sends verify_report (the report is then
    // verified); the public compliance page shows the entity with its
    // verified emissions; a representative's user may not open the reports
    // page, and a representative's user may not send verify_report
    // (role_forbids, 403, from the command's metadata, as the API says).
    let server = start();
    let public = get(&server, None, "/ui/compliance");
    assert!(public.body.contains("Plant (10)"), "{}", public.body);
    assert!(
        public.body.contains("no_verified_report"),
        "{}",
        public.body
    );

    let verifier = sign_in(&server, "verifier");
    let page = get(&server, Some(&verifier), "/ui/reports");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("submitted"), "{}", page.body);
    let computed = page
        .body
        .split("<td class=\"num\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the computed emissions cell")
        .to_owned();
    let fields = |csrf: &str, request_id: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("request_id", request_id.to_owned()),
            ("entity", "10".to_owned()),
            ("year", "2021".to_owned()),
            ("accept", "true".to_owned()),
        ]
    };
    let send = |cookie: &str, fields: Vec<(&str, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(&server, Some(cookie), "/ui/reports/verify", &borrowed)
    };

    let rep_a = sign_in(&server, "rep-a");
    assert_eq!(get(&server, Some(&rep_a), "/ui/reports").status, 403);
    let home = get(&server, Some(&rep_a), "/ui");
    let refused = send(
        &rep_a,
        fields(
            &hidden_value(&home.body, "csrf"),
            &hidden_value(&home.body, "request_id"),
        ),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("role_forbids"), "{}", refused.body);

    let accepted = send(
        &verifier,
        fields(
            &hidden_value(&page.body, "csrf"),
            &hidden_value(&page.body, "request_id"),
        ),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(accepted.body.contains("verified"), "{}", accepted.body);
    let page = get(&server, Some(&verifier), "/ui/reports");
    assert!(
        !page.body.contains("value=\"true\""),
        "no report awaits: {}",
        page.body
    );
    let public = get(&server, None, "/ui/compliance");
    assert!(
        public
            .body
            .contains(&format!("<td class=\"num\">{computed}</td>")),
        "{computed}: {}",
        public.body
    );
}

#[test]
fn signing_out_ends_the_session() {
    // Goal: after signing out, the old cookie no longer signs anyone in.
    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    assert!(home.body.contains("Signed in as"));
    let out = post(
        &server,
        Some(&rep_a),
        "/ui/logout",
        &[("csrf", &hidden_value(&home.body, "csrf"))],
    );
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookie
            .is_some_and(|cookie| cookie.contains("Max-Age=0"))
    );
    let home = get(&server, Some(&rep_a), "/ui");
    assert!(!home.body.contains("Signed in as"));
}

// ------------------------------------------------------------------ browser

/// chromedriver, killed and reaped when dropped (also when a test panics).
struct Driver {
    child: Child,
    address: std::net::SocketAddr,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ask chromedriver to quit first: it then ends the browsers of its
        // sessions, so that no Chromium outlives a failed test.
        if let Ok(mut stream) = std::net::TcpStream::connect(self.address) {
            use std::io::{Read as _, Write as _};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        // Waiting for the exit, not measuring: up to 10 s of 100 ms tries.
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Starts chromedriver on a free loopback port and waits until it listens.
fn start_driver(program: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        address: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().expect("profile dir"),
    };
    // Waiting for readiness, not measuring: up to 30 s of 100 ms tries.
    for _ in 0..300 {
        if std::net::TcpStream::connect(driver.address).is_ok() {
            return driver;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not listen on port {port}");
}

fn chromium_capabilities(profile: &Path) -> fantoccini::wd::Capabilities {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-crash-reporter".to_owned(),
        "--disable-breakpad".to_owned(),
        "--window-size=390,844".to_owned(),
    ];
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut options = serde_json::json!({ "args": args });
    if let Some(binary) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| Path::new(path).is_file())
    {
        options["binary"] = serde_json::json!(binary);
    }
    let mut capabilities = fantoccini::wd::Capabilities::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    capabilities
}

type Browser = fantoccini::Client;
type Outcome<T> = Result<T, Box<dyn std::error::Error>>;

/// Fails the flow (without panicking, so the browser is still closed) when
/// `shown` is not `expected`.
fn expect_text(what: &str, shown: &str, expected: &str) -> Outcome<()> {
    if shown == expected {
        Ok(())
    } else {
        Err(format!("{what}: the page shows {shown:?}, expected {expected:?}").into())
    }
}

async fn browser_sign_in(browser: &Browser, base: &str, name: &str) -> Outcome<()> {
    use fantoccini::Locator;
    browser.delete_all_cookies().await?;
    browser.goto(&format!("{base}/ui/login")).await?;
    browser
        .find(Locator::Css("input[name=name]"))
        .await?
        .send_keys(name)
        .await?;
    browser
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    browser
        .find(Locator::Css("form.card button"))
        .await?
        .click()
        .await?;
    shows(browser, "Signed in as").await
}

/// The text of the element `css` names, once the page shows it.
async fn text_of(browser: &Browser, css: &str) -> Outcome<String> {
    Ok(browser
        .wait()
        .for_element(fantoccini::Locator::Css(css))
        .await?
        .text()
        .await?)
}

/// Waits until the page shows an element whose own text contains `text`.
async fn shows(browser: &Browser, text: &str) -> Outcome<()> {
    let xpath = format!("//*[contains(text(), '{text}')]");
    browser
        .wait()
        .for_element(fantoccini::Locator::XPath(&xpath))
        .await?;
    Ok(())
}

/// Rep A proposes 300 t from account 100 to 200; rep B, in a new session,
/// approves; the account page then shows 700 t.
async fn four_eyes_transfer(browser: &Browser, base: &str) -> Outcome<()> {
    use fantoccini::Locator;
    let total = "td[data-unit='CEA-2021'][data-field=total]";
    let available = "td[data-unit='CEA-2021'][data-field=available]";

    browser_sign_in(browser, base, "rep-a").await?;
    browser.goto(&format!("{base}/ui/accounts/100")).await?;
    expect_text("total before", &text_of(browser, total).await?, "1,000")?;
    browser.goto(&format!("{base}/ui")).await?;
    let form = browser.form(Locator::Css("form#transfer")).await?;
    form.set_by_name("to", "200").await?;
    form.set_by_name("quantity", "300").await?;
    browser
        .find(Locator::Css("form#transfer button"))
        .await?
        .click()
        .await?;
    // The confirmation step: the recipient and its trust, before anything is proposed.
    let recipient = text_of(browser, "#recipient").await?;
    if !recipient.starts_with("200 (Fund)") {
        return Err(format!("the confirmation names the recipient as {recipient:?}").into());
    }
    let trusted = text_of(browser, "#trusted").await?;
    if !trusted.starts_with("No") {
        return Err(format!("the confirmation says {trusted:?} about trust").into());
    }
    browser
        .find(Locator::Css("form#confirm button"))
        .await?
        .click()
        .await?;
    expect_text(
        "proposal",
        &text_of(browser, "#outcome").await?,
        "Accepted.",
    )?;
    shows(browser, "awaiting_approval").await?;
    browser.goto(&format!("{base}/ui/accounts/100")).await?;
    expect_text(
        "total while pending",
        &text_of(browser, total).await?,
        "1,000",
    )?;
    expect_text(
        "available while pending",
        &text_of(browser, available).await?,
        "700",
    )?;

    browser_sign_in(browser, base, "rep-b").await?;
    let row = browser
        .wait()
        .for_element(Locator::Css("tr[id^=pending-]"))
        .await?;
    row.find(Locator::Css("button[value=approve]"))
        .await?
        .click()
        .await?;
    expect_text(
        "approval",
        &text_of(browser, "#outcome").await?,
        "Accepted.",
    )?;
    shows(browser, "completed").await?;
    browser.goto(&format!("{base}/ui/accounts/100")).await?;
    expect_text("total after", &text_of(browser, total).await?, "700")?;
    expect_text(
        "available after",
        &text_of(browser, available).await?,
        "700",
    )?;
    browser.goto(&format!("{base}/ui")).await?;
    shows(browser, "Nothing awaits approval.").await?;
    Ok(())
}

/// Rep A's statement of account 100 after the four-eyes transfer: the
/// allocation and the transfer out, and the CSV download holds the same rows.
async fn statement_and_csv(browser: &Browser, base: &str) -> Outcome<()> {
    use fantoccini::Locator;
    browser.goto(&format!("{base}/ui/accounts/100")).await?;
    browser
        .find(Locator::Css("a.statement"))
        .await?
        .click()
        .await?;
    let newest = "#statement tbody tr:first-child";
    expect_text(
        "transfer quantity",
        &text_of(browser, &format!("{newest} td[data-field=quantity]")).await?,
        "−300",
    )?;
    expect_text(
        "transfer status",
        &text_of(browser, &format!("{newest} td[data-field=status]")).await?,
        "completed",
    )?;
    let shown: Vec<String> = {
        let mut ids = Vec::new();
        for row in browser
            .find_all(Locator::Css("#statement tbody tr"))
            .await?
        {
            ids.push(row.attr("data-transaction").await?.unwrap_or_default());
        }
        ids
    };
    if shown.len() != 2 {
        return Err(format!(
            "the statement lists {shown:?}, expected the allocation and the transfer"
        )
        .into());
    }
    let total = text_of(browser, "#pager-top .count").await?;
    expect_text("total shown", &total, "2")?;
    // The CSV link, fetched with the browser's session, lists the same transactions.
    let href = browser
        .find(Locator::Css("a#csv"))
        .await?
        .attr("href")
        .await?
        .ok_or("the CSV link has no address")?;
    let cookie = browser.get_named_cookie("ets_session").await?;
    let csv = get_at(
        base,
        Some(&format!("ets_session={}", cookie.value())),
        &href,
    );
    if csv.status != 200 {
        return Err(format!("the CSV answered {}: {}", csv.status, csv.body).into());
    }
    let lines: Vec<&str> = csv.body.lines().collect();
    if !lines[0].starts_with("transaction,proposed_utc") {
        return Err(format!("the CSV header is {:?}", lines[0]).into());
    }
    let csv_ids: Vec<String> = lines[1..]
        .iter()
        .map(|line| line.split(',').next().unwrap_or("").to_owned())
        .collect();
    if csv_ids != shown {
        return Err(format!("the CSV lists {csv_ids:?}, the page {shown:?}").into());
    }
    if !lines[1].contains(",out,200,Fund,CEA-2021,-300,completed") {
        return Err(format!("the CSV's transfer line is {:?}", lines[1]).into());
    }
    Ok(())
}

/// Someone not signed in finds the public report of 2021 from the home
/// page: the installation's status and the cut-off's state hash.
async fn public_report(browser: &Browser, base: &str) -> Outcome<()> {
    use fantoccini::Locator;
    browser.delete_all_cookies().await?;
    browser.goto(&format!("{base}/")).await?;
    browser
        .find(Locator::LinkText("Public reports"))
        .await?
        .click()
        .await?;
    browser
        .find(Locator::LinkText("2021"))
        .await?
        .click()
        .await?;
    expect_text(
        "the installation's status",
        &text_of(
            browser,
            "#installations tr[data-participant='10'] td[data-field=status]",
        )
        .await?,
        "no_verified_report",
    )?;
    let hash = text_of(browser, "#state-hash").await?;
    if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(format!("the state hash shown is {hash:?}").into());
    }
    browser
        .find(Locator::Css("a#market"))
        .await?
        .click()
        .await?;
    shows(browser, "No trade in this year.").await
}

/// Rep A proposes, over plain HTTP in a session of its own, 250 t from
/// account 100 (2 of 2) to account 300, sending the fields the
/// confirmation step sends; gives the outcome page.
fn propose_as_rep_a(base: &str) -> Page {
    let cookie = sign_in_at(base, "rep-a");
    let home = get_at(base, Some(&cookie), "/ui");
    let csrf = hidden_value(&home.body, "csrf");
    let request_id = hidden_value(&home.body, "request_id");
    post_at(
        base,
        Some(&cookie),
        "/ui/transfer",
        &[
            ("csrf", &csrf),
            ("request_id", &request_id),
            ("back", "/ui"),
            ("from", "100"),
            ("to", "300"),
            ("unit", "CEA-2021"),
            ("quantity", "250"),
        ],
    )
}

/// Rep B opens its inbox (nothing awaits it); rep A then proposes a
/// transfer from their 2-of-2 account; the item appears in rep B's open
/// page without a reload and leads to the transaction's page, which offers
/// rep B the approval.
async fn inbox_receives_an_approval_request(browser: &Browser, base: &str) -> Outcome<()> {
    use fantoccini::Locator;
    browser_sign_in(browser, base, "rep-b").await?;
    browser.goto(&format!("{base}/ui/inbox")).await?;
    shows(browser, "Nothing awaits you.").await?;
    // Waiting for the stream's `subscribed` event, not measuring.
    browser
        .wait()
        .for_element(Locator::Css("ul#inbox[data-live='true']"))
        .await?;
    // A mark on this very document: a reload would lose it.
    browser
        .execute(
            "document.body.setAttribute('data-mark', 'before');",
            Vec::new(),
        )
        .await?;
    let base_owned = base.to_owned();
    let proposed = tokio::task::spawn_blocking(move || propose_as_rep_a(&base_owned)).await?;
    if proposed.status != 200 || !proposed.body.contains("awaiting_approval") {
        return Err(format!(
            "the proposal answered {}: {}",
            proposed.status, proposed.body
        )
        .into());
    }
    let item = text_of(browser, "ul#inbox li[data-kind='approval_awaited'] a").await?;
    if !item.contains("awaits your approval") || !item.contains("from account 100 to 300") {
        return Err(format!("the inbox item reads {item:?}").into());
    }
    let mark = browser
        .find(Locator::Css("body"))
        .await?
        .attr("data-mark")
        .await?;
    expect_text(
        "the page's mark (no reload)",
        mark.as_deref().unwrap_or(""),
        "before",
    )?;
    let empty_hidden = browser
        .find(Locator::Css("#inbox-empty"))
        .await?
        .attr("hidden")
        .await?;
    if empty_hidden.is_none() {
        return Err("the page still says nothing awaits".into());
    }
    browser
        .find(Locator::Css("ul#inbox li[data-kind='approval_awaited'] a"))
        .await?
        .click()
        .await?;
    browser
        .wait()
        .for_element(Locator::Css("button[value=approve]"))
        .await?;
    Ok(())
}

/// A browser flow of a test.
#[derive(Clone, Copy)]
enum Flow {
    FourEyes,
    FourEyesThenStatement,
    PublicReport,
    Inbox,
}

async fn run_flow(flow: Flow, browser: &Browser, base: &str) -> Outcome<()> {
    if matches!(flow, Flow::PublicReport) {
        return public_report(browser, base).await;
    }
    if matches!(flow, Flow::Inbox) {
        return inbox_receives_an_approval_request(browser, base).await;
    }
    four_eyes_transfer(browser, base).await?;
    if matches!(flow, Flow::FourEyesThenStatement) {
        browser_sign_in(browser, base, "rep-a").await?;
        statement_and_csv(browser, base).await?;
    }
    Ok(())
}

/// Runs `flow` in headless Chromium against a fresh [`start`]ed server;
/// skipped (passing) without chromedriver unless `ETS_BROWSER_TEST=required`.
fn in_browser(flow: Flow) {
    let required = std::env::var("ETS_BROWSER_TEST").is_ok_and(|value| value == "required");
    let Some(program) = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find_program("chromedriver"))
    else {
        assert!(
            !required,
            "ETS_BROWSER_TEST=required but chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
        println!("skipped: install chromium chromium-driver to run the browser test");
        return;
    };
    let server = start();
    let driver = start_driver(&program);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result: Outcome<()> = runtime.block_on(async {
        let browser = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(chromium_capabilities(driver._profile.path()))
        .connect(&driver.url)
        .await?;
        let outcome = run_flow(flow, &browser, &server.base).await;
        let closed = browser.close().await;
        outcome?;
        closed?;
        Ok(())
    });
    drop(driver);
    if let Err(error) = result {
        panic!("the browser flow failed: {error}");
    }
}

#[test]
fn a_four_eyes_transfer_is_proposed_and_approved_in_a_real_browser() {
    // Goal: in headless Chromium, one representative reviews a transfer from
    // a 2-of-2 account on the confirmation step (recipient named, not
    // trusted) and proposes it, the other signs in (a new session) and
    // approves it, and the balances shown on the account page change.
    in_browser(Flow::FourEyes);
}

#[test]
fn the_public_report_opens_without_sign_in_in_a_real_browser() {
    // Goal: from the home page, someone not signed in reaches the 2021
    // report through its links and sees the installation's status and the
    // cut-off's state hash, then the year's market page.
    in_browser(Flow::PublicReport);
}

#[test]
fn the_statement_lists_the_transfer_and_its_csv_the_same_rows_in_a_real_browser() {
    // Goal: after the four-eyes transfer, the account's statement shows it
    // (out, -300, completed) with the allocation and the total 2, and the
    // CSV download lists the same transactions in the same order.
    in_browser(Flow::FourEyesThenStatement);
}

#[test]
fn the_inbox_receives_an_approval_request_without_a_reload_in_a_real_browser() {
    // Goal: rep B's open inbox page shows, pushed over the stream, the
    // transfer rep A proposes from their 2-of-2 account, without reloading,
    // and its link leads to the page where rep B may approve it.
    in_browser(Flow::Inbox);
}

/// A UI form: its path, its fields, and the same command as JSON.
type Form = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    serde_json::Value,
);

#[test]
fn the_api_and_the_ui_give_the_same_answer_for_every_form_and_role() {
    // Goal: authorisation is decided once: for every command the UI has a
    // form for and every role, the JSON API and the UI form answer with the
    // same status (and, when refused before the engine or by it, the same
    // code). The commands are chosen so that sending one twice (once each
    // way) meets the same state.
    let server = start();
    let forms: [Form; 11] = [
        (
            "/ui/transfer",
            vec![
                ("from", "100"),
                ("to", "200"),
                ("unit", "CEA-2021"),
                ("quantity", "1"),
            ],
            serde_json::json!({"command":"transfer","from":100,"to":200,"unit":"CEA-2021","quantity":1}),
        ),
        (
            "/ui/surrender",
            vec![
                ("from", "300"),
                ("unit", "CEA-2021"),
                ("quantity", "1"),
                ("compliance_year", "2021"),
            ],
            serde_json::json!({"command":"surrender","from":300,"unit":"CEA-2021","quantity":1,"compliance_year":2021}),
        ),
        (
            "/ui/decide",
            vec![("decision", "approve"), ("transaction", "999")],
            serde_json::json!({"command":"approve","transaction":999}),
        ),
        (
            "/ui/admin/issue",
            vec![("unit", "CEA-2021"), ("quantity", "1")],
            serde_json::json!({"command":"issue","unit":"CEA-2021","quantity":1}),
        ),
        (
            "/ui/admin/allocate",
            vec![("to", "300"), ("unit", "CEA-2021"), ("quantity", "1")],
            serde_json::json!({"command":"allocate","to":300,"unit":"CEA-2021","quantity":1}),
        ),
        (
            "/ui/reports/verify",
            vec![("entity", "999"), ("year", "2021"), ("accept", "false")],
            serde_json::json!({"command":"verify_report","entity":999,"year":2021,"accept":false}),
        ),
        // The administrator's forms, aimed at what exists (or does not), so
        // the engine refuses both sends alike where the role may send them.
        (
            "/ui/admin/participant",
            vec![("id", "1"), ("kind", "institution"), ("name", "again")],
            serde_json::json!({"command":"register_participant","id":1,"kind":"institution","name":"again"}),
        ),
        (
            "/ui/admin/account",
            vec![
                ("id", "100"),
                ("kind", "trading"),
                ("holder", "20"),
                ("representatives", "20"),
                ("approvals_required", "1"),
            ],
            serde_json::json!({"command":"open_account","id":100,"kind":"trading","holder":20,"representatives":[20],"approvals_required":1}),
        ),
        // A value the shape allows but a rule refuses (a bidi override in a
        // name): 422 `invalid_value` both ways, before any role is looked at.
        (
            "/ui/admin/participant",
            vec![
                ("id", "77"),
                ("kind", "institution"),
                ("name", "a\u{202e}b"),
            ],
            serde_json::json!({"command":"register_participant","id":77,"kind":"institution","name":"a\u{202e}b"}),
        ),
        (
            "/ui/admin/status",
            vec![("account", "999"), ("status", "blocked")],
            serde_json::json!({"command":"set_account_status","account":999,"status":"blocked"}),
        ),
        (
            "/ui/admin/rule",
            vec![
                ("account", "999"),
                ("representatives", "10"),
                ("approvals_required", "1"),
            ],
            serde_json::json!({"command":"set_approval_rule","account":999,"representatives":[10],"approvals_required":1}),
        ),
    ];
    let users = [
        ("admin", 1),
        ("verifier", 2),
        ("rep-a", 10),
        ("fund", 20),
        ("auditor", 99),
    ];
    let mut request_id = 7_000_u64;
    for (user, participant) in users {
        let cookie = sign_in(&server, user);
        let token = ets_server::Users::issue_token(&server.data, user).expect("token");
        let csrf = hidden_value(&get(&server, Some(&cookie), "/ui").body, "csrf");
        for (path, fields, command) in &forms {
            request_id += 2;
            let mut line = command.clone();
            line["request_id"] = request_id.into();
            line["requester"] = participant.into();
            let api = common::post(&server, &format!("Bearer {token}"), &line);
            let ui_id = (request_id + 1).to_string();
            let mut sent = fields.clone();
            sent.push(("csrf", &csrf));
            sent.push(("request_id", &ui_id));
            let ui = post(&server, Some(&cookie), path, &sent);
            assert_eq!(
                api.status, ui.status,
                "{user} {path}: {} / {}",
                api.body, ui.body
            );
            if let Some(code) = api.body["code"].as_str() {
                assert!(
                    ui.body.contains(code),
                    "{user} {path}: {code} not in {}",
                    ui.body
                );
            }
        }
    }
}

// ------------------------------------------------- pages for daily work (HTTP)

/// Moves 1 t from account 200 to 300, `count` times, through the API as `fund`.
fn small_transfers(server: &Server, count: u64) {
    let authorization = common::bearer(server, "fund");
    for index in 0..count {
        let answer = common::post(
            server,
            &authorization,
            &serde_json::json!({
                "request_id": 5_000 + index, "requester": 20, "command": "transfer",
                "from": 200, "to": 300, "unit": "CEA-2021", "quantity": 1
            }),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

#[test]
fn the_root_leads_to_the_ui() {
    // Goal: `GET /` is not an empty 404 but a redirect to `/ui`.
    let server = start();
    let page = get(&server, None, "/");
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/ui"));
}

#[test]
fn a_statement_pages_with_its_total_and_refuses_a_page_beyond_the_end() {
    // Goal: 55 transfers and 2 trades make 57 rows on account 200's
    // statement: page 1 holds 50, page 2 holds 7, both say 57; page 3 is
    // refused with 404 page_beyond_end naming the last page; a page or
    // date that is not one is a 400 with the text escaped.
    let server = start();
    small_transfers(&server, 55);
    let fund = sign_in(&server, "fund");
    let first = get(&server, Some(&fund), "/ui/accounts/200/statement");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body.matches("data-transaction=").count(), 50);
    assert!(
        first.body.contains("<strong class=\"count\">57</strong>"),
        "{}",
        first.body
    );
    assert!(first.body.contains("page 1 of 2"));
    assert!(
        first
            .body
            .contains("href=\"/ui/accounts/200/statement?page=2\"")
    );
    let second = get(&server, Some(&fund), "/ui/accounts/200/statement?page=2");
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body.matches("data-transaction=").count(), 7);
    let beyond = get(&server, Some(&fund), "/ui/accounts/200/statement?page=3");
    assert_eq!(beyond.status, 404, "{}", beyond.body);
    assert!(beyond.body.contains("page_beyond_end"), "{}", beyond.body);
    assert!(
        beyond.body.contains("the last page is 2"),
        "{}",
        beyond.body
    );
    for query in [
        "page=0",
        "page=%3Cb%3E",
        "from=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "from=2026-02-01&to=2026-01-01",
    ] {
        let bad = get(
            &server,
            Some(&fund),
            &format!("/ui/accounts/200/statement?{query}"),
        );
        assert_eq!(bad.status, 400, "{query}: {}", bad.body);
        assert!(bad.body.contains("bad_query"), "{}", bad.body);
        assert!(
            !bad.body.contains("<script>") && !bad.body.contains("<b>"),
            "{}",
            bad.body
        );
    }
    let elsewhere = get(&server, Some(&fund), "/ui/accounts/100/statement");
    assert_eq!(elsewhere.status, 403, "not a representative of account 100");
    let csv = get(&server, Some(&fund), "/ui/accounts/200/statement.csv");
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.body.lines().count(),
        58,
        "a header and every row, not one page"
    );
}

#[test]
fn a_statement_period_keeps_only_its_days() {
    // Goal: a period that ends before the store's first day lists nothing;
    // one that covers today lists everything.
    let server = start();
    let fund = sign_in(&server, "fund");
    let old = get(
        &server,
        Some(&fund),
        "/ui/accounts/200/statement?from=2000-01-01&to=2000-12-31",
    );
    assert_eq!(old.status, 200, "{}", old.body);
    assert!(
        old.body.contains("No transaction in this period."),
        "{}",
        old.body
    );
    let all = get(
        &server,
        Some(&fund),
        "/ui/accounts/200/statement?from=2000-01-01&to=2999-12-31",
    );
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(
        all.body.matches("data-transaction=").count(),
        2,
        "the two trades"
    );
}

#[test]
fn a_transaction_page_offers_decisions_only_to_those_who_may_send_them() {
    // Goal: after rep A proposes from the 2-of-2 account through the
    // confirmation step, the transaction's page shows the proposer and
    // status history; rep A (the proposer) is offered Withdraw but not
    // Approve, rep B Approve and Reject, the recipient's representative
    // (fund) sees the page with no decision, a verifier is refused.
    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let csrf = hidden_value(&home.body, "csrf");
    let request_id = hidden_value(&home.body, "request_id");
    let fields = [
        ("csrf", csrf.as_str()),
        ("request_id", request_id.as_str()),
        ("from", "100"),
        ("to", "200"),
        ("unit", "CEA-2021"),
        ("quantity", "300"),
    ];
    let confirm = post(&server, Some(&rep_a), "/ui/transfer/confirm", &fields);
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("200 (Fund)"), "{}", confirm.body);
    assert!(
        confirm.body.contains("not on account 100"),
        "{}",
        confirm.body
    );
    assert_eq!(
        hidden_value(&confirm.body, "request_id"),
        request_id,
        "the same request id goes on"
    );
    let nothing_yet = get(&server, Some(&rep_a), "/ui");
    assert!(
        !nothing_yet.body.contains("pending-"),
        "the confirmation proposes nothing"
    );
    let unknown = post(
        &server,
        Some(&rep_a),
        "/ui/transfer/confirm",
        &[
            ("csrf", csrf.as_str()),
            ("request_id", "7"),
            ("from", "100"),
            ("to", "999"),
            ("unit", "CEA-2021"),
            ("quantity", "1"),
        ],
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.body.contains("unknown_account"));
    let proposed = post(&server, Some(&rep_a), "/ui/transfer", &fields);
    assert_eq!(proposed.status, 200, "{}", proposed.body);
    let marker = "<dt>transaction</dt><dd>";
    let start = proposed.body.find(marker).expect("the transaction id") + marker.len();
    let end = proposed.body[start..].find('<').expect("end") + start;
    let id = &proposed.body[start..end];
    let path = format!("/ui/transactions/{id}");

    let page = get(&server, Some(&rep_a), &path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("awaiting_approval"));
    assert!(
        page.body.contains("10 (Plant)"),
        "the proposer is named: {}",
        page.body
    );
    assert!(
        !page.body.contains("value=\"approve\""),
        "the proposer may not approve"
    );
    assert!(page.body.contains("value=\"withdraw\""));
    let home = get(&server, Some(&rep_a), "/ui");
    assert!(
        !home.body.contains("value=\"approve\""),
        "nor on the dashboard"
    );

    let rep_b = sign_in(&server, "rep-b");
    let page = get(&server, Some(&rep_b), &path);
    assert!(
        page.body.contains("value=\"approve\"") && page.body.contains("value=\"reject\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("value=\"withdraw\""));

    let fund = sign_in(&server, "fund");
    let page = get(&server, Some(&fund), &path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("/ui/decide"), "{}", page.body);

    let verifier = sign_in(&server, "verifier");
    assert_eq!(get(&server, Some(&verifier), &path).status, 403);
    assert_eq!(
        get(&server, Some(&rep_a), "/ui/transactions/99999").status,
        404
    );

    // After rep B approves, the page shows who approved and the serial blocks moved.
    let page = get(&server, Some(&rep_b), &path);
    let approve_id = {
        let at = page.body.find("value=\"approve\"").expect("approve form");
        let form_start = page.body[..at].rfind("<form").expect("form start");
        hidden_value(&page.body[form_start..], "request_id")
    };
    let csrf_b = hidden_value(&page.body, "csrf");
    let approved = post(
        &server,
        Some(&rep_b),
        "/ui/decide",
        &[
            ("csrf", csrf_b.as_str()),
            ("request_id", approve_id.as_str()),
            ("transaction", id),
            ("decision", "approve"),
        ],
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    let page = get(&server, Some(&rep_a), &path);
    assert!(page.body.contains("completed"), "{}", page.body);
    assert!(
        page.body.contains("11 (Second signer)"),
        "the approver is named: {}",
        page.body
    );
    assert!(page.body.contains("id=\"blocks\""), "{}", page.body);
    assert!(!page.body.contains("/ui/decide"));
}

#[test]
fn a_delayed_transfer_page_shows_when_its_delay_ends_and_its_status_history() {
    // Goal: on a business day at 11:00 Beijing time, with CEA transfers to
    // accounts outside the trusted list delayed 60 minutes, rep A's transfer
    // to the fund, once rep B signs, is delayed; its page names the delay's
    // end (an hour after the initiation, 04:00 UTC) and that the recipient
    // is not trusted, and its status history lists the steps in order.
    // 2027-03-03 (a Wednesday, a business day) 03:00 UTC.
    let server = start_at(ets_server::ServerClock::starting_at(ets_model::Timestamp(
        1_804_042_800_000,
    )));
    let admin = common::bearer(&server, "admin");
    let controls = serde_json::json!({"request_id":60,"requester":1,"command":"set_controls",
        "scheme":"CEA","calendar":"cn","transfer_delay_minutes":60,
        "trusted_activation_business_days":1,"window_opens":"09:30","window_closes":"15:00"});
    let set = common::post(&server, &admin, &controls);
    assert_eq!(set.status, 200, "{}", set.body);
    let proposal = serde_json::json!({"request_id":61,"requester":10,"command":"transfer",
        "from":100,"to":200,"unit":"CEA-2021","quantity":7});
    let proposed = common::post(&server, &common::bearer(&server, "rep-a"), &proposal);
    assert_eq!(proposed.status, 200, "{}", proposed.body);
    let id = proposed.body["result"]["transaction"]
        .as_u64()
        .expect("a transaction");
    let approval =
        serde_json::json!({"request_id":62,"requester":11,"command":"approve","transaction":id});
    let approved = common::post(&server, &common::bearer(&server, "rep-b"), &approval);
    assert_eq!(approved.status, 200, "{}", approved.body);
    let rep_a = sign_in(&server, "rep-a");
    let page = get(&server, Some(&rep_a), &format!("/ui/transactions/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let cell = |id: &str| {
        let marker = format!("id=\"{id}\">");
        let start = page.body.find(&marker).map_or(0, |at| at + marker.len());
        page.body[start..]
            .split("</")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(cell("status"), "delayed", "{}", page.body);
    // The delay runs 60 minutes from the initiation (the approval's stamp).
    let marker = "<dt>Initiated</dt><dd>";
    let at = page.body.find(marker).expect("the initiation") + marker.len();
    let initiated = page.body[at..].split(" UTC").next().unwrap_or_default();
    assert!(initiated.starts_with("2027-03-03 03:"), "{initiated}");
    assert_eq!(
        cell("delay-end"),
        format!(
            "{} UTC (recipient not on the trusted list)",
            initiated.replacen(" 03:", " 04:", 1)
        ),
        "{}",
        page.body
    );
    let history_at = page
        .body
        .find("id=\"status-history\"")
        .expect("the history");
    let history = &page.body[history_at..];
    let order: Vec<usize> = ["proposed", "awaiting_approval", "delayed"]
        .iter()
        .map(|status| history.find(&format!("<td>{status}</td>")).expect(status))
        .collect();
    assert!(order[0] < order[1] && order[1] < order[2], "{history}");
    assert!(history.contains("11 (Second signer)"), "{history}");
}

#[test]
fn search_finds_accounts_transactions_and_serials_and_injects_nothing() {
    // Goal: as rep A, a number finds account 100 and its allocation; a
    // holder's name finds its account; a serial finds who holds it; markup
    // and SQL in the term are shown escaped and find nothing; a page beyond
    // the results is refused with a message; rep A never finds account 300.
    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let search = |term: &str, page: &str| {
        let mut path = format!("/ui/search?q={}", encode(term));
        if !page.is_empty() {
            path.push_str(&format!("&page={page}"));
        }
        get(&server, Some(&rep_a), &path)
    };
    let by_number = search("100", "");
    assert_eq!(by_number.status, 200, "{}", by_number.body);
    assert!(
        by_number.body.contains("href=\"/ui/accounts/100\""),
        "{}",
        by_number.body
    );
    assert!(
        by_number.body.contains("data-kind=\"transaction\""),
        "{}",
        by_number.body
    );
    let by_name = search("plant", "");
    assert!(by_name.body.contains("Account 100"), "{}", by_name.body);
    let by_unit = search("CEA-2021", "");
    assert!(
        by_unit.body.contains("allocate of 1,000 t"),
        "{}",
        by_unit.body
    );
    assert!(
        !by_unit.body.contains("account 300"),
        "rep A does not represent 300: {}",
        by_unit.body
    );
    let account = get(&server, Some(&rep_a), "/ui/accounts/100");
    let marker = "<td class=\"blocks\">";
    let start = account.body.find(marker).expect("the blocks cell") + marker.len();
    let first_serial: String = account.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let by_serial = search(&first_serial, "");
    assert!(
        by_serial.body.contains(&format!("Serial {first_serial}"))
            && by_serial.body.contains("held now by account 100"),
        "{}",
        by_serial.body
    );
    let hidden_account = search("300", "");
    assert!(
        !hidden_account.body.contains("href=\"/ui/accounts/300\""),
        "{}",
        hidden_account.body
    );
    for term in [
        "<script>alert(1)</script>",
        "' OR '1'='1",
        "%",
        "x'); DROP TABLE transactions; --",
    ] {
        let page = search(term, "");
        assert_eq!(page.status, 200, "{term}: {}", page.body);
        assert!(
            page.body.contains("id=\"no-results\""),
            "{term}: {}",
            page.body
        );
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
    }
    let beyond = search("100", "9");
    assert_eq!(beyond.status, 404, "{}", beyond.body);
    assert!(beyond.body.contains("page_beyond_end") && beyond.body.contains("beyond the end"));
    let too_long = search(&"x".repeat(201), "");
    assert_eq!(too_long.status, 400);
    // Nothing was changed by the terms: the statement still lists the allocation.
    let statement = get(&server, Some(&rep_a), "/ui/accounts/100/statement");
    assert_eq!(statement.body.matches("data-transaction=").count(), 1);
}

// ---------------------------------------------------------- public reports

/// The hex text between `<code id="ID">` and `</code>` on a page.
fn code_text(body: &str, id: &str) -> String {
    let marker = format!("<code id=\"{id}\">");
    let start = body.find(&marker).expect("the code element") + marker.len();
    let end = body[start..].find('<').expect("end") + start;
    body[start..end].to_owned()
}

#[test]
fn the_public_report_needs_no_sign_in_and_its_hashes_match_the_store() {
    // Goal: anyone opens the 2021 report: the covered installation (Plant,
    // no verified report yet) and the cut-off; the JSON and CSV downloads
    // carry the same cut-off, which equals the journal's record count, head
    // hash and state hash of the store read from disk; the market
    // page lists this year's trades; a year that is not one is a 400.
    let server = start();
    let page = get(&server, None, "/ui/public/2021");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Plant (10)"), "{}", page.body);
    let state_hash = code_text(&page.body, "state-hash");
    let head_hash = code_text(&page.body, "head-hash");
    assert_eq!((state_hash.len(), head_hash.len()), (64, 64));
    let json = get(&server, None, "/ui/public/2021/report.json");
    assert_eq!(json.status, 200, "{}", json.body);
    let report: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    assert_eq!(report["cut_off"]["state_hash"], state_hash.as_str());
    assert_eq!(report["installations"][0]["name"], "Plant");
    let csv = get(&server, None, "/ui/public/2021/installations.csv");
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .lines()
            .nth(1)
            .expect("a line")
            .ends_with(&state_hash),
        "{}",
        csv.body
    );
    let this_year = &ets_api::format_time(ets_store::wall_clock_now())[..4];
    let market = get(&server, None, &format!("/ui/public/{this_year}/market"));
    assert_eq!(market.status, 200, "{}", market.body);
    assert!(market.body.contains("<td>CEA21</td>"), "{}", market.body);
    let market_csv = get(&server, None, &format!("/ui/public/{this_year}/market.csv"));
    assert!(
        market_csv.body.contains("CEA21,2,60,"),
        "{}",
        market_csv.body
    );
    assert_eq!(get(&server, None, "/ui/public/20x1").status, 400);
    assert_eq!(get(&server, None, "/ui/public/2021?page=2").status, 404);
    let records = report["cut_off"]["records"].as_u64().expect("records");
    // Read-only, beside the running server (nothing was sent since the report).
    let store = ets_store::Store::open_read_only(&server.data).expect("the store");
    assert_eq!(store.journal().last_sequence(), records);
    assert_eq!(
        ets_api::public_report::hex(&store.journal().last_hash()),
        head_hash
    );
    assert_eq!(store.engine().state_hash().to_string(), state_hash);
}

#[test]
fn the_administrator_registers_opens_blocks_and_sets_controls_through_forms() {
    // Goal: the administrator's forms register a verifier, open a 2-of-2
    // account for the second signer, block it, set its rule and the CEA scheme's
    // controls, each accepted by the engine;
    // a representative sending the same form is refused before the engine
    // (role_forbids); a malformed id list is a 400 that sends nothing.
    let server = start();
    let admin = sign_in(&server, "admin");
    let send = |cookie: &str, path: &str, fields: &[(&str, &str)]| {
        let page = get(&server, Some(cookie), "/ui/admin");
        let home = if page.status == 200 {
            page
        } else {
            get(&server, Some(cookie), "/ui")
        };
        let csrf = hidden_value(&home.body, "csrf");
        let request_id = hidden_value(&home.body, "request_id");
        let mut all = vec![("csrf", csrf.as_str()), ("request_id", request_id.as_str())];
        all.extend_from_slice(fields);
        post(&server, Some(cookie), path, &all)
    };
    let accepted = |page: Page, what: &str| {
        assert_eq!(page.status, 200, "{what}: {}", page.body);
        assert!(page.body.contains("Accepted."), "{what}: {}", page.body);
    };
    accepted(
        send(
            &admin,
            "/ui/admin/participant",
            &[
                ("id", "77"),
                ("kind", "verifier"),
                ("name", "Audit & Co <b>"),
            ],
        ),
        "register",
    );
    accepted(
        send(
            &admin,
            "/ui/admin/account",
            &[
                ("id", "210"),
                ("kind", "trading"),
                ("holder", "11"),
                ("representatives", "11, 10"),
                ("approvals_required", "2"),
            ],
        ),
        "open",
    );
    accepted(
        send(
            &admin,
            "/ui/admin/status",
            &[("account", "210"), ("status", "blocked")],
        ),
        "block",
    );
    accepted(
        send(
            &admin,
            "/ui/admin/rule",
            &[
                ("account", "210"),
                ("representatives", "11"),
                ("approvals_required", "1"),
            ],
        ),
        "rule",
    );
    accepted(
        send(
            &admin,
            "/ui/admin/controls",
            &[
                ("scheme", "CEA"),
                ("calendar", "cn"),
                ("transfer_delay_minutes", "1560"),
                ("window_opens", "09:30"),
                ("window_closes", "15:00"),
            ],
        ),
        "controls",
    );
    let overview = get(&server, Some(&admin), "/ui/admin");
    assert!(
        overview.body.contains("/ui/accounts/210"),
        "{}",
        overview.body
    );
    let search = get(&server, Some(&admin), "/ui/search?q=Audit");
    assert!(!search.body.contains("<b>"), "names are escaped");
    let fund = sign_in(&server, "fund");
    let refused = send(
        &fund,
        "/ui/admin/status",
        &[("account", "210"), ("status", "open")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("role_forbids"), "{}", refused.body);
    let malformed = send(
        &admin,
        "/ui/admin/rule",
        &[
            ("account", "210"),
            ("representatives", "20,x"),
            ("approvals_required", "1"),
        ],
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(malformed.body.contains("malformed_form"));
    // The confirmation step now names the delay of the CEA scheme's controls.
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let csrf = hidden_value(&home.body, "csrf");
    let confirm = post(
        &server,
        Some(&rep_a),
        "/ui/transfer/confirm",
        &[
            ("csrf", csrf.as_str()),
            ("request_id", "9"),
            ("from", "100"),
            ("to", "200"),
            ("unit", "CEA-2021"),
            ("quantity", "5"),
        ],
    );
    assert!(
        confirm.body.contains("26 hours after initiation"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("09:30 to 15:00"), "{}", confirm.body);
}

#[test]
fn the_market_the_account_list_and_holdings_download_as_csv_for_those_who_see_them() {
    // Goal: the market CSV is public and lists the two trades and the
    // resting orders; the account list is the administrator's alone; an
    // account's holdings go to its representatives, not to others.
    let server = start();
    let market = get(&server, None, "/ui/market.csv");
    assert_eq!(market.status, 200, "{}", market.body);
    let lines: Vec<&str> = market.body.lines().collect();
    assert_eq!(lines[0], "instrument,line,at_utc,price,quantity,orders");
    let trades = lines
        .iter()
        .filter(|line| line.starts_with("CEA21,trade,"))
        .count();
    assert_eq!(trades, 2, "{}", market.body);
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("CEA21,bid,,49.00,15,1")),
        "{}",
        market.body
    );
    let admin = sign_in(&server, "admin");
    let accounts = get(&server, Some(&admin), "/ui/admin/accounts.csv");
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    assert!(
        accounts
            .body
            .contains("100,operator_holding,open,10,Plant,10 11,2,CEA-2021,1000,0,1000"),
        "{}",
        accounts.body
    );
    let rep = sign_in(&server, "rep-a");
    assert_eq!(
        get(&server, Some(&rep), "/ui/admin/accounts.csv").status,
        403
    );
    let own = get(&server, Some(&rep), "/ui/accounts/100/holdings.csv");
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body.lines().count(), 2, "{}", own.body);
    let fund = sign_in(&server, "fund");
    assert_eq!(
        get(&server, Some(&fund), "/ui/accounts/100/holdings.csv").status,
        403
    );
}

/// Sends a form from account `id`'s page (its CSRF token and a fresh request id).
fn send_from_account_page(
    server: &Server,
    cookie: &str,
    id: u64,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let page = get(server, Some(cookie), &format!("/ui/accounts/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = hidden_value(&page.body, "csrf");
    let request_id = hidden_value(&page.body, "request_id");
    let mut all = vec![("csrf", csrf.as_str()), ("request_id", request_id.as_str())];
    all.extend_from_slice(fields);
    post(server, Some(cookie), path, &all)
}

#[test]
fn representatives_propose_and_approve_a_trusted_account_from_the_account_page() {
    // Goal: with CEA controls set (cn calendar, 7 business days by default),
    // rep A proposes account 200 for 2-of-2 account 100's trusted list
    // (pending approval, shown with the activation delay), rep A may not
    // approve its own proposal (the engine refuses), rep B approves it and
    // the page shows it pending activation with its activation time.
    let server = start();
    let admin = sign_in(&server, "admin");
    let overview = get(&server, Some(&admin), "/ui/admin");
    let controls = post(
        &server,
        Some(&admin),
        "/ui/admin/controls",
        &[
            ("csrf", &hidden_value(&overview.body, "csrf")),
            ("request_id", &hidden_value(&overview.body, "request_id")),
            ("scheme", "CEA"),
            ("calendar", "cn"),
            ("transfer_delay_minutes", "1560"),
            ("window_opens", "00:00"),
            ("window_closes", "23:59"),
        ],
    );
    assert_eq!(controls.status, 200, "{}", controls.body);
    let rep_a = sign_in(&server, "rep-a");
    let page = get(&server, Some(&rep_a), "/ui/accounts/100");
    assert!(page.body.contains("No trusted account."), "{}", page.body);
    assert!(page.body.contains("business days (CEA)"), "{}", page.body);
    let proposed = send_from_account_page(
        &server,
        &rep_a,
        100,
        "/ui/trusted",
        &[
            ("account", "100"),
            ("trusted", "200"),
            ("scheme", "CEA"),
            ("action", "propose"),
        ],
    );
    assert_eq!(proposed.status, 200, "{}", proposed.body);
    let page = get(&server, Some(&rep_a), "/ui/accounts/100");
    assert!(
        page.body
            .contains("data-field=\"status\">pending_approval<"),
        "{}",
        page.body
    );
    let own = send_from_account_page(
        &server,
        &rep_a,
        100,
        "/ui/trusted",
        &[
            ("account", "100"),
            ("trusted", "200"),
            ("action", "approve"),
        ],
    );
    assert_ne!(own.status, 200, "{}", own.body);
    let rep_b = sign_in(&server, "rep-b");
    let approved = send_from_account_page(
        &server,
        &rep_b,
        100,
        "/ui/trusted",
        &[
            ("account", "100"),
            ("trusted", "200"),
            ("action", "approve"),
        ],
    );
    assert_eq!(approved.status, 200, "{}", approved.body);
    let page = get(&server, Some(&rep_b), "/ui/accounts/100");
    assert!(
        page.body
            .contains("data-field=\"status\">pending_activation<"),
        "{}",
        page.body
    );
    let bad = send_from_account_page(
        &server,
        &rep_b,
        100,
        "/ui/trusted",
        &[
            ("account", "100"),
            ("trusted", "200"),
            ("action", "<b>drop</b>"),
        ],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(!bad.body.contains("<b>drop"), "{}", bad.body);
}

#[test]
fn the_pending_table_search_results_and_inbox_download_as_csv_for_their_user() {
    // Goal: the dashboard's "awaiting approval" table, the search results
    // and the inbox each download the same rows the page shows, to the same
    // person only: rep B sees the transfer rep A proposed and may approve
    // it; the recipient decides nothing; a verifier finds nothing.

    let server = start();
    let rep_a = sign_in(&server, "rep-a");
    let home = get(&server, Some(&rep_a), "/ui");
    let fields = [
        ("csrf", hidden_value(&home.body, "csrf")),
        ("request_id", hidden_value(&home.body, "request_id")),
        ("from", "100".to_owned()),
        ("to", "200".to_owned()),
        ("unit", "CEA-2021".to_owned()),
        ("quantity", "7".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = post(&server, Some(&rep_a), "/ui/transfer", &fields);
    assert!(sent.body.contains("awaiting_approval"), "{}", sent.body);
    let rep_b = sign_in(&server, "rep-b");
    let home = get(&server, Some(&rep_b), "/ui");
    assert!(home.body.contains("/ui/pending.csv"), "{}", home.body);
    let pending = get(&server, Some(&rep_b), "/ui/pending.csv");
    assert_eq!(pending.status, 200, "{}", pending.body);
    let lines: Vec<&str> = pending.body.lines().collect();
    assert_eq!(
        lines[0],
        "transaction,kind,unit,quantity,from_account,to_account,proposer,approvals,approvals_required,you_may"
    );
    let row = lines
        .iter()
        .find(|line| line.contains(",CEA-2021,7,100,200,10,"))
        .unwrap_or_else(|| panic!("no pending row in {}", pending.body));
    assert!(row.ends_with(",approve reject"), "{row}");
    let id = row.split(',').next().unwrap().to_owned();

    let inbox = get(&server, Some(&rep_b), "/ui/inbox.csv");
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert!(
        inbox
            .body
            .starts_with("kind,transaction,account,entity,scheme,year,due_utc,summary,link\r\n")
    );
    assert!(
        inbox
            .body
            .lines()
            .any(|line| line.starts_with(&format!("approval_awaited,{id},100,"))),
        "{}",
        inbox.body
    );

    let search = get(&server, Some(&rep_b), &format!("/ui/search.csv?q={id}"));
    assert_eq!(search.status, 200, "{}", search.body);
    assert!(search.body.starts_with("what,found,details,link\r\n"));
    assert!(
        search
            .body
            .contains(&format!("transaction,Transaction {id},")),
        "{}",
        search.body
    );
    let marked = get(
        &server,
        Some(&rep_b),
        "/ui/search.csv?q=%3Dcmd%7C%27%20%2FC%20calc%27",
    );
    assert_eq!(marked.status, 200, "{}", marked.body);
    assert_eq!(marked.body.lines().count(), 1, "{}", marked.body);

    // The fund, the recipient, sees the transfer listed as its dashboard
    // does, with nothing it may decide; its inbox holds nothing.
    let fund = sign_in(&server, "fund");
    let theirs = get(&server, Some(&fund), "/ui/pending.csv");
    assert!(
        theirs
            .body
            .contains(&format!("{id},transfer,CEA-2021,7,100,200,10,,2,\r\n")),
        "{}",
        theirs.body
    );
    let page = get(&server, Some(&fund), "/ui/inbox.csv");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.lines().count(), 1, "{}", page.body);
    let verifier = sign_in(&server, "verifier");
    let hidden = get(&server, Some(&verifier), &format!("/ui/search.csv?q={id}"));
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    assert!(
        !hidden.body.contains(&format!("Transaction {id}")),
        "{}",
        hidden.body
    );
    // Signed out: to the login page, no rows.
    for path in ["/ui/pending.csv", "/ui/inbox.csv", "/ui/search.csv?q=1"] {
        let page = get(&server, None, path);
        assert!(!page.body.contains("CEA-2021"), "{path}: {}", page.body);
        assert_ne!(page.status, 200, "{path}");
    }
}
