//! Server-Sent Events: `GET /api/stream/market` (trades, quotes, closed days),
//! `GET /api/stream/accounts/{id}` (an account's transactions, trades,
//! cash and status) and `GET /api/stream/inbox` (what awaits the signed-in
//! person: `ets_api::InboxItem`s; the web UI's inbox reads the same events
//! at `/ui/inbox/stream`). The sequencer derives the events of a batch once it is
//! durable and publishes them on one bounded broadcast channel; each
//! subscriber keeps its own place in it. A subscriber that falls more than
//! [`EVENTS_BUFFERED`] events behind loses the oldest and gets a `lagged`
//! event saying how many, so a slow client never makes the server buffer
//! without bound.

use crate::auth::UserDirectory;
use crate::http::{ServerState, enqueue_read, refuse};
use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ets_api::{
    AccountStatusEvent, AccountTradeEvent, CashEvent, DayClosedEvent, ErrorBody, LaggedEvent,
    Principal, QuoteEvent, Refusal, RefusalCode, StreamStats, SubscribedEvent, TradeEvent,
    Visibility, account_parties, authorise_inbox, authorise_read, transaction_view,
};
use ets_engine::exchange::{ExchangeEffect, TradeLog, TradeRecord};
use ets_engine::{Command, Effect, Outcome};
use ets_model::{AccountId, Code, ParticipantId};
use ets_registry::Effect as RegistryEffect;
use ets_store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Events kept for subscribers that have not read them yet; beyond this the
/// slowest lose the oldest and are told with a `lagged` event.
pub const EVENTS_BUFFERED: usize = 4_096;

/// Seconds between keep-alive comments on an idle stream.
const KEEP_ALIVE_SECONDS: u64 = 15;

/// Which stream an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// The public market stream.
    Market,
    /// One account's stream.
    Account(AccountId),
    /// One person's inbox.
    Inbox(ParticipantId),
}

/// One event, ready to send: its stream, its SSE event name and its JSON data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// The stream it goes to.
    pub topic: Topic,
    /// The SSE `event:` name (`trade`, `quote`, `day_closed`, `transaction`, ...).
    pub name: &'static str,
    /// The SSE `data:` line, one JSON object.
    pub data: String,
    /// Who besides administrators and auditors may receive it: for an
    /// account's event, the account's holder and representatives when it was
    /// published; empty for the public market stream.
    pub readers: Vec<ParticipantId>,
}

/// The publishing side, shared by the sequencer and the handlers.
#[derive(Debug, Clone)]
pub struct Streams {
    events: broadcast::Sender<Arc<StreamEvent>>,
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Streams {
    fn default() -> Streams {
        Streams::new()
    }
}

impl Streams {
    /// A new channel with no subscribers.
    #[must_use]
    pub fn new() -> Streams {
        let (events, _) = broadcast::channel(EVENTS_BUFFERED);
        let (closing, _) = watch::channel(false);
        Streams {
            events,
            closing: Arc::new(closing),
        }
    }

    /// Ends every open stream and refuses none after (at shutdown: an open
    /// stream would otherwise keep the graceful shutdown waiting forever).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Whether anyone listens (events are only derived then).
    #[must_use]
    pub fn has_subscribers(&self) -> bool {
        self.events.receiver_count() > 0
    }

    /// Publishes events to the current subscribers.
    pub fn publish(&self, events: Vec<StreamEvent>) {
        for event in events {
            // No subscriber is not an error: the event is simply not wanted.
            let _ = self.events.send(Arc::new(event));
        }
    }

    /// A stream of the events of `topic`, starting with a `subscribed` event;
    /// `gate` decides for every event whether it may still be sent (a
    /// refusal ends the stream with a `forbidden` event).
    pub(crate) fn sse(&self, topic: Topic, hello: SubscribedEvent, gate: Gate) -> Response {
        let receiver = self.events.subscribe();
        let closing = self.closing.subscribe();
        let first = Event::default()
            .event("subscribed")
            .json_data(hello)
            .unwrap_or_default();
        let state = (Some(first), receiver, closing, Some(gate));
        let stream = futures_util::stream::unfold(
            state,
            move |(first, mut receiver, mut closing, gate)| async move {
                let gate = gate?;
                if let Some(first) = first {
                    return Some((
                        Ok::<Event, Infallible>(first),
                        (None, receiver, closing, Some(gate)),
                    ));
                }
                loop {
                    if *closing.borrow() {
                        return None;
                    }
                    tokio::select! {
                        received = receiver.recv() => match received {
                            Ok(event) if event.topic == topic => {
                                if let Err(refusal) = gate.admits(&event) {
                                    let body = ErrorBody::from(&refusal);
                                    let sent = Event::default().event("forbidden").json_data(body).unwrap_or_default();
                                    return Some((Ok(sent), (None, receiver, closing, None)));
                                }
                                let sent = Event::default().event(event.name).data(event.data.as_str());
                                return Some((Ok(sent), (None, receiver, closing, Some(gate))));
                            }
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                let sent = Event::default()
                                    .event("lagged")
                                    .json_data(LaggedEvent { missed })
                                    .unwrap_or_default();
                                return Some((Ok(sent), (None, receiver, closing, Some(gate))));
                            }
                            Err(broadcast::error::RecvError::Closed) => return None,
                        },
                        changed = closing.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                        }
                    }
                }
            },
        );
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(KEEP_ALIVE_SECONDS)))
            .into_response()
    }
}

/// The check a stream makes before every event: the subscriber's user, as
/// the users file says now (removed: the stream ends; role changed: the new
/// role applies), must still be allowed to read it.
pub(crate) struct Gate {
    pub(crate) users: Arc<UserDirectory>,
    pub(crate) user: String,
}

impl Gate {
    fn admits(&self, event: &StreamEvent) -> Result<(), Refusal> {
        let principal = self.users.principal_named(&self.user).ok_or_else(|| {
            Refusal::new(
                RefusalCode::Unauthenticated,
                format!("user {} no longer exists", self.user),
            )
        })?;
        match event.topic {
            Topic::Market => Ok(()),
            Topic::Account(id) => authorise_read(
                &principal,
                Visibility::Parties,
                &event.readers,
                &format!("account {id}"),
            ),
            Topic::Inbox(participant) => authorise_inbox(&principal, participant),
        }
    }
}

/// `GET /api/stream/market`: any authenticated user; public data.
pub(crate) async fn market(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let gate = Gate {
        users: Arc::clone(&state.users),
        user: principal.name,
    };
    state.streams.sse(
        Topic::Market,
        SubscribedEvent {
            stream: "market",
            account: None,
        },
        gate,
    )
}

/// `GET /api/stream/accounts/{id}`: the account's holder and representatives,
/// the administrators and the auditors, checked when the stream opens and
/// again before every event.
pub(crate) async fn account(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
    crate::http::Id(id): crate::http::Id,
) -> Response {
    let account = AccountId(id);
    let parties = enqueue_read(&state.jobs, move |store| {
        let registry = store.engine().registry();
        registry
            .account(account)
            .is_ok()
            .then(|| account_parties(registry, account))
    })
    .await;
    let parties = match parties {
        Ok(Some(parties)) => parties,
        Ok(None) => {
            return refuse(&Refusal::new(
                RefusalCode::NotFound,
                format!("account {id} does not exist"),
            ));
        }
        Err(refusal) => return refuse(&refusal),
    };
    let what = format!("account {id}");
    if let Err(refusal) = authorise_read(&principal, Visibility::Parties, &parties, &what) {
        return refuse(&refusal);
    }
    let gate = Gate {
        users: Arc::clone(&state.users),
        user: principal.name,
    };
    state.streams.sse(
        Topic::Account(account),
        SubscribedEvent {
            stream: "account",
            account: Some(id),
        },
        gate,
    )
}

/// `GET /api/stream/inbox`: the user's own participant's inbox events.
pub(crate) async fn inbox(
    State(state): State<ServerState>,
    Extension(principal): Extension<Principal>,
) -> Response {
    inbox_stream(&state, &principal)
}

/// The inbox stream of `principal`'s participant (the API's and the web UI's).
pub(crate) fn inbox_stream(state: &ServerState, principal: &Principal) -> Response {
    let gate = Gate {
        users: Arc::clone(&state.users),
        user: principal.name.clone(),
    };
    state.streams.sse(
        Topic::Inbox(principal.participant),
        SubscribedEvent {
            stream: "inbox",
            account: None,
        },
        gate,
    )
}

/// What the sequencer remembers between batches to publish quotes only when
/// they change.
#[derive(Debug, Default)]
pub(crate) struct Publisher {
    last_quotes: BTreeMap<Code, String>,
    inbox: crate::inbox_events::InboxTracker,
}

impl Publisher {
    /// The events time alone brings at `now` (a tick of the server's clock).
    pub(crate) fn tick(&mut self, store: &Store, now: ets_model::Timestamp) -> Vec<StreamEvent> {
        self.inbox.tick(store.engine(), now)
    }

    /// The events of a durable batch, from its outcomes and the state after it.
    pub(crate) fn events<'a>(
        &mut self,
        store: &Store,
        batch: impl Iterator<Item = (&'a Command, &'a Outcome)>,
    ) -> Vec<StreamEvent> {
        let batch: Vec<(&Command, &Outcome)> = batch.collect();
        let engine = store.engine();
        let mut scan = BatchScan {
            registry: engine.registry(),
            exchange: engine.exchange(),
            events: self.inbox.events(engine, &batch),
            touched: BTreeSet::new(),
            transactions: BTreeSet::new(),
        };
        for (_, outcome) in &batch {
            if let Outcome::Accepted(effect) = outcome {
                scan.effect(effect);
            }
        }
        scan.transaction_events();
        self.quote_events(&mut scan);
        add_readers(scan.registry, &mut scan.events);
        scan.events
    }

    /// A `quote` on the market stream for every instrument the batch touched
    /// whose quote differs from the last one published.
    fn quote_events(&mut self, scan: &mut BatchScan<'_>) {
        for instrument in std::mem::take(&mut scan.touched) {
            let depth = scan.exchange.depth(&instrument);
            let stats = scan.exchange.day_stats(&instrument);
            let quote = QuoteEvent::new(&instrument, depth.as_ref(), stats.as_ref());
            let Ok(data) = serde_json::to_string(&quote) else {
                continue;
            };
            if self.last_quotes.get(&instrument) != Some(&data) {
                self.last_quotes.insert(instrument, data.clone());
                scan.events.push(StreamEvent {
                    topic: Topic::Market,
                    name: "quote",
                    data,
                    readers: Vec::new(),
                });
            }
        }
    }
}

/// One batch's events as its accepted effects are read in order, with the
/// instruments whose quote may have moved and the transactions to announce
/// once every effect is read.
struct BatchScan<'a> {
    registry: &'a ets_registry::Registry,
    exchange: &'a ets_engine::exchange::Exchange,
    events: Vec<StreamEvent>,
    touched: BTreeSet<Code>,
    transactions: BTreeSet<ets_model::TransactionId>,
}

impl BatchScan<'_> {
    /// Reads one accepted effect.
    fn effect(&mut self, effect: &Effect) {
        match effect {
            Effect::Registry(registry_effect) => self.registry_effect(registry_effect),
            Effect::Exchange(exchange_effect) => self.exchange_effect(exchange_effect),
            Effect::Compliance(_) | Effect::Clock(_) => {}
        }
    }

    /// A registry effect: a transaction to announce, or an account's `status`.
    fn registry_effect(&mut self, effect: &RegistryEffect) {
        match effect {
            RegistryEffect::Transaction { id, .. } => {
                self.transactions.insert(*id);
            }
            RegistryEffect::AccountOpened(account) | RegistryEffect::AccountUpdated(account) => {
                if let Ok(view) = ets_api::account_view(self.registry, *account) {
                    let data = AccountStatusEvent {
                        account: account.0,
                        status: view.status,
                        representatives: view.representatives,
                        approvals_required: view.approvals_required,
                    };
                    self.events
                        .push(event(Topic::Account(*account), "status", &data));
                }
            }
            RegistryEffect::ParticipantRegistered(_)
            | RegistryEffect::ControlsSet
            | RegistryEffect::DelaysReleased(_) => {}
        }
    }

    /// An exchange effect: trades, a closed day, a cash balance, and the
    /// instruments whose quote may have moved.
    fn exchange_effect(&mut self, effect: &ExchangeEffect) {
        match effect {
            ExchangeEffect::OrderEntered {
                instrument, trades, ..
            } => {
                self.touched.insert(*instrument);
                self.trades(trades);
            }
            ExchangeEffect::AuctionClosed { trades, .. } => self.trades(trades),
            ExchangeEffect::OrderClosed { instrument, .. }
            | ExchangeEffect::InstrumentListed { instrument } => {
                self.touched.insert(*instrument);
            }
            ExchangeEffect::DayClosed {
                instrument, stats, ..
            } => {
                self.touched.insert(*instrument);
                let data = DayClosedEvent {
                    instrument: instrument.to_string(),
                    stats: StreamStats::from(stats),
                };
                self.events.push(event(Topic::Market, "day_closed", &data));
            }
            ExchangeEffect::CashUpdated { account, balance } => {
                let data = CashEvent {
                    account: account.0,
                    cash_available_minor_units: balance.available.minor_units(),
                    cash_held_minor_units: balance.held.minor_units(),
                };
                self.events
                    .push(event(Topic::Account(*account), "cash", &data));
            }
            ExchangeEffect::AuctionOpened { .. }
            | ExchangeEffect::BidSubmitted { .. }
            | ExchangeEffect::BidWithdrawn { .. }
            | ExchangeEffect::BidModified { .. }
            | ExchangeEffect::HoldingLimitSet { .. } => {}
        }
    }

    /// The `trade` events of settled trades `ids`, whose transactions are
    /// announced too.
    fn trades(&mut self, ids: &[u64]) {
        for record in trade_records(self.exchange.trades(), ids) {
            self.transactions.insert(record.transaction);
            trade_events(record, &mut self.events);
        }
    }

    /// A `transaction` on the account stream of each party (once when an
    /// account transfers to itself) of every transaction the batch made.
    fn transaction_events(&mut self) {
        for &id in &self.transactions {
            let Ok(view) = transaction_view(self.registry, id) else {
                continue;
            };
            let parties = [Some(view.from), Some(view.to)];
            let Ok(data) = serde_json::to_string(&view) else {
                continue;
            };
            for (index, party) in parties.iter().enumerate() {
                if let Some(party) = party
                    && (index == 0 || parties[0] != Some(*party))
                {
                    self.events.push(StreamEvent {
                        topic: Topic::Account(AccountId(*party)),
                        name: "transaction",
                        data: data.clone(),
                        readers: Vec::new(),
                    });
                }
            }
        }
    }
}

fn event(topic: Topic, name: &'static str, data: &impl serde::Serialize) -> StreamEvent {
    StreamEvent {
        topic,
        name,
        // Serializing these plain structs cannot fail.
        data: serde_json::to_string(data).unwrap_or_default(),
        readers: Vec::new(),
    }
}

/// Names, on every account event, who may receive it: the account's parties
/// as the registry says after the batch (a representative removed by it no
/// longer receives the account's events).
fn add_readers(registry: &ets_registry::Registry, events: &mut [StreamEvent]) {
    let mut parties: BTreeMap<AccountId, Vec<ParticipantId>> = BTreeMap::new();
    for event in events {
        if let Topic::Account(account) = event.topic {
            event.readers = parties
                .entry(account)
                .or_insert_with(|| account_parties(registry, account))
                .clone();
        }
    }
}

/// The records of `ids` (trade ids are numbered from 1 in settlement order).
fn trade_records<'a>(all: &'a TradeLog, ids: &'a [u64]) -> impl Iterator<Item = &'a TradeRecord> {
    ids.iter().filter_map(move |&id| all.get(id))
}

/// A public `trade` on the market stream (no parties) and one `trade` per
/// party on its account stream.
fn trade_events(record: &TradeRecord, events: &mut Vec<StreamEvent>) {
    events.push(event(Topic::Market, "trade", &TradeEvent::from(record)));
    for (account, own) in AccountTradeEvent::both(record) {
        events.push(event(Topic::Account(account), "trade", &own));
    }
}
