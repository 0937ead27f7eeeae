//! The history database's schema: one SQL text that both SQLite and
//! PostgreSQL accept (SQLite stores each table as one B-tree keyed as it is
//! read, [`sqlite_schema_sql`]), and the table list the projection writes and
//! the equality checks read. docs/history.md explains every column.

/// The schema version this build writes. A database of a newer version is
/// refused rather than written with an older idea of its tables; one of an
/// older version is dropped, created again at this one and rebuilt from the
/// journal (version 2 added `transaction_approvals`; version 3 stores SQLite's
/// tables by their keys and drops the two account indexes of `transactions`).
pub const SCHEMA_VERSION: i64 = 3;

/// The tables and indexes, in plain SQL common to SQLite and PostgreSQL.
pub const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    sequence BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    requester BIGINT NOT NULL,
    request_id BIGINT NOT NULL,
    command TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    from_account BIGINT NOT NULL,
    to_account BIGINT NOT NULL,
    unit_class TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    status TEXT NOT NULL,
    proposer BIGINT NOT NULL,
    proposed_ms BIGINT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS transaction_status (
    transaction_id BIGINT NOT NULL,
    step BIGINT NOT NULL,
    status TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    by_participant BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, step)
);
CREATE TABLE IF NOT EXISTS transaction_blocks (
    transaction_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    first_serial BIGINT NOT NULL,
    last_serial BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, position)
);
CREATE TABLE IF NOT EXISTS transaction_approvals (
    transaction_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    participant BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, position)
);
CREATE INDEX IF NOT EXISTS transaction_blocks_serial ON transaction_blocks (first_serial, last_serial);
CREATE TABLE IF NOT EXISTS holdings (
    account_id BIGINT NOT NULL,
    unit_class TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    blocks BIGINT NOT NULL,
    PRIMARY KEY (account_id, unit_class)
);
CREATE TABLE IF NOT EXISTS trades (
    id BIGINT PRIMARY KEY,
    venue TEXT NOT NULL,
    mode TEXT NOT NULL,
    maker_order BIGINT NOT NULL,
    taker_order BIGINT NOT NULL,
    buyer BIGINT NOT NULL,
    seller BIGINT NOT NULL,
    price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    buyer_fee BIGINT NOT NULL,
    seller_fee BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    transaction_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    instrument TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    sequence BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    side TEXT NOT NULL,
    price BIGINT,
    quantity BIGINT NOT NULL,
    open_after_entry BIGINT NOT NULL,
    trades BIGINT NOT NULL,
    entered_ms BIGINT NOT NULL,
    PRIMARY KEY (instrument, order_id)
);
CREATE TABLE IF NOT EXISTS market_days (
    instrument TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    closed_ms BIGINT NOT NULL,
    previous_close BIGINT NOT NULL,
    open BIGINT NOT NULL,
    high BIGINT,
    low BIGINT,
    last BIGINT,
    close BIGINT NOT NULL,
    vwap BIGINT,
    volume BIGINT NOT NULL,
    turnover BIGINT NOT NULL,
    trades BIGINT NOT NULL,
    expired BIGINT NOT NULL,
    PRIMARY KEY (instrument, sequence)
);
CREATE TABLE IF NOT EXISTS compliance_results (
    scheme TEXT NOT NULL,
    year BIGINT NOT NULL,
    participant BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    verified_emissions BIGINT,
    allocation BIGINT NOT NULL,
    obligation BIGINT NOT NULL,
    allowances_surrendered BIGINT NOT NULL,
    offsets_used BIGINT NOT NULL,
    status TEXT NOT NULL,
    shortfall BIGINT NOT NULL,
    fine_min BIGINT NOT NULL,
    fine_max BIGINT NOT NULL,
    next_year_deduction BIGINT NOT NULL,
    eu_status TEXT,
    PRIMARY KEY (scheme, year, participant)
);
";

/// [`SCHEMA_SQL`] as the embedded SQLite file creates it: each table one
/// B-tree, keyed as it is read and written. A table with one integer key
/// keeps its rows by it (`INTEGER PRIMARY KEY`, SQLite's 64-bit row id); every
/// other table is `WITHOUT ROWID`, its rows kept in its primary key's order.
/// SQLite's `BIGINT PRIMARY KEY` or composite key would be a second B-tree
/// beside the rows, written with every row: twice the pages per upsert.
#[must_use]
pub fn sqlite_schema_sql() -> String {
    SCHEMA_SQL
        .split(';')
        .filter(|statement| !statement.trim().is_empty())
        .map(|statement| {
            if !statement.trim_start().starts_with("CREATE TABLE") {
                return format!("{statement};");
            }
            if statement.contains(" BIGINT PRIMARY KEY") {
                format!(
                    "{};",
                    statement.replace(" BIGINT PRIMARY KEY", " INTEGER PRIMARY KEY")
                )
            } else {
                format!("{statement} WITHOUT ROWID;")
            }
        })
        .collect()
}

/// Drops every table of the schema (their indexes go with them), `meta`
/// included: before a database of an older version is created again.
#[must_use]
pub fn drop_schema_sql() -> String {
    TABLES
        .iter()
        .map(|table| table.name)
        .chain(["meta"])
        .map(|name| format!("DROP TABLE IF EXISTS {name};\n"))
        .collect()
}

/// A table the projection writes: its name, columns, and how many leading
/// columns form its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The SQL name.
    pub name: &'static str,
    /// The columns, key columns first.
    pub columns: &'static [&'static str],
    /// How many leading columns are the primary key.
    pub key: usize,
}

impl Table {
    /// `INSERT ... ON CONFLICT (key) DO UPDATE SET ...` with `$1..$n`
    /// parameters, which SQLite and PostgreSQL both accept.
    #[must_use]
    pub fn upsert_sql(&self) -> String {
        self.upsert_rows_sql(1)
    }

    /// [`Table::upsert_sql`] for `rows` rows in one statement (`VALUES
    /// ($1, ..), ($n+1, ..)`, parameters row after row). SQLite upserts them
    /// one after the other, so a later row of a key overwrites an earlier one
    /// as separate statements would (PostgreSQL refuses a key twice).
    #[must_use]
    pub fn upsert_rows_sql(&self, rows: usize) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|row| {
                let parameters: Vec<String> = (1..=width)
                    .map(|column| format!("${}", row * width + column))
                    .collect();
                format!("({})", parameters.join(", "))
            })
            .collect();
        let keys = self.columns[..self.key].join(", ");
        let updates: Vec<String> = self.columns[self.key..]
            .iter()
            .map(|column| format!("{column} = excluded.{column}"))
            .collect();
        let action = if updates.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({keys}) {action}",
            self.name,
            self.columns.join(", "),
            tuples.join(", ")
        )
    }

    /// This table's place in [`TABLES`], where per-table things (a prepared
    /// statement) are kept.
    ///
    /// # Panics
    /// For a table that is not in [`TABLES`]: the projection writes no other.
    #[must_use]
    pub fn index(&self) -> usize {
        let Some(index) = TABLES.iter().position(|table| table.name == self.name) else {
            panic!("table {} is not in TABLES", self.name);
        };
        index
    }

    /// `SELECT` of every column, ordered by the key: for dumps and comparisons.
    #[must_use]
    pub fn select_all_sql(&self) -> String {
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            self.columns.join(", "),
            self.name,
            self.columns[..self.key].join(", ")
        )
    }
}

/// The commands journaled, one row per journal record.
pub const COMMANDS: Table = Table {
    name: "commands",
    columns: &[
        "sequence",
        "time_ms",
        "requester",
        "request_id",
        "command",
        "outcome",
    ],
    key: 1,
};
/// Registry transactions as they stand now.
pub const TRANSACTIONS: Table = Table {
    name: "transactions",
    columns: &[
        "id",
        "kind",
        "from_account",
        "to_account",
        "unit_class",
        "quantity",
        "status",
        "proposer",
        "proposed_ms",
        "note",
    ],
    key: 1,
};
/// Each transaction's status history (the audit trail).
pub const TRANSACTION_STATUS: Table = Table {
    name: "transaction_status",
    columns: &[
        "transaction_id",
        "step",
        "status",
        "at_ms",
        "by_participant",
    ],
    key: 2,
};
/// The serial blocks each completed transaction moved.
pub const TRANSACTION_BLOCKS: Table = Table {
    name: "transaction_blocks",
    columns: &["transaction_id", "position", "first_serial", "last_serial"],
    key: 2,
};
/// The representatives who approved each transaction, in order.
pub const TRANSACTION_APPROVALS: Table = Table {
    name: "transaction_approvals",
    columns: &["transaction_id", "position", "participant"],
    key: 2,
};
/// Units held per account and unit class.
pub const HOLDINGS: Table = Table {
    name: "holdings",
    columns: &["account_id", "unit_class", "quantity", "blocks"],
    key: 2,
};
/// Settled trades with their parties.
pub const TRADES: Table = Table {
    name: "trades",
    columns: &[
        "id",
        "venue",
        "mode",
        "maker_order",
        "taker_order",
        "buyer",
        "seller",
        "price",
        "quantity",
        "buyer_fee",
        "seller_fee",
        "at_ms",
        "transaction_id",
    ],
    key: 1,
};
/// Orders, takes, proposals, acceptances and bids as entered.
pub const ORDERS: Table = Table {
    name: "orders",
    columns: &[
        "instrument",
        "order_id",
        "sequence",
        "account_id",
        "side",
        "price",
        "quantity",
        "open_after_entry",
        "trades",
        "entered_ms",
    ],
    key: 2,
};
/// Each closed trading day's figures per instrument.
pub const MARKET_DAYS: Table = Table {
    name: "market_days",
    columns: &[
        "instrument",
        "sequence",
        "closed_ms",
        "previous_close",
        "open",
        "high",
        "low",
        "last",
        "close",
        "vwap",
        "volume",
        "turnover",
        "trades",
        "expired",
    ],
    key: 2,
};
/// Each entity's result of a closed compliance year.
pub const COMPLIANCE_RESULTS: Table = Table {
    name: "compliance_results",
    columns: &[
        "scheme",
        "year",
        "participant",
        "account_id",
        "verified_emissions",
        "allocation",
        "obligation",
        "allowances_surrendered",
        "offsets_used",
        "status",
        "shortfall",
        "fine_min",
        "fine_max",
        "next_year_deduction",
        "eu_status",
    ],
    key: 3,
};

/// The `meta` upsert: one `key`'s `value`, `$1` and `$2`.
pub const META_UPSERT_SQL: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Every table of read models, in the order the projection writes them.
pub const TABLES: [Table; 10] = [
    COMMANDS,
    TRANSACTIONS,
    TRANSACTION_STATUS,
    TRANSACTION_BLOCKS,
    TRANSACTION_APPROVALS,
    HOLDINGS,
    TRADES,
    ORDERS,
    MARKET_DAYS,
    COMPLIANCE_RESULTS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_name_every_column_and_update_the_rest() {
        assert_eq!(
            HOLDINGS.upsert_sql(),
            "INSERT INTO holdings (account_id, unit_class, quantity, blocks) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, unit_class) DO UPDATE SET quantity = excluded.quantity, blocks = excluded.blocks"
        );
        for table in TABLES {
            assert!(
                table.key >= 1 && table.key <= table.columns.len(),
                "{}",
                table.name
            );
            assert!(SCHEMA_SQL.contains(&format!("CREATE TABLE IF NOT EXISTS {} (", table.name)));
        }
        for (index, table) in TABLES.iter().enumerate() {
            assert_eq!(table.index(), index, "{}", table.name);
        }
        let sqlite = sqlite_schema_sql();
        assert!(
            sqlite.contains(
                "CREATE TABLE IF NOT EXISTS commands (\n    sequence INTEGER PRIMARY KEY,"
            )
        );
        assert!(sqlite.contains("PRIMARY KEY (account_id, unit_class)\n) WITHOUT ROWID;"));
        assert!(!sqlite.contains("BIGINT PRIMARY KEY"));
        for table in TABLES {
            let start = sqlite
                .find(&format!("CREATE TABLE IF NOT EXISTS {} (", table.name))
                .expect("created");
            let statement = &sqlite[start..start + sqlite[start..].find(';').expect("ends")];
            assert!(
                statement.contains("INTEGER PRIMARY KEY") != statement.ends_with("WITHOUT ROWID"),
                "{statement}"
            );
        }
        assert_eq!(
            TRANSACTION_APPROVALS.upsert_rows_sql(2),
            "INSERT INTO transaction_approvals (transaction_id, position, participant) \
             VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT (transaction_id, position) \
             DO UPDATE SET participant = excluded.participant"
        );
    }
}
