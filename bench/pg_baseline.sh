#!/usr/bin/env bash
# PostgreSQL baseline for `ets bench ledger`: the same transfer workload (uniformly random
# pairs among 10,000 accounts, one double-entry transfer per transaction) on a throwaway
# PostgreSQL cluster on a free loopback port, driven by pgbench. Prints its figure beside
# ours (`ets bench ledger` on a smaller run, so the two finish in comparable time), then
# stops and removes the cluster.
#
# Usage: bench/pg_baseline.sh [SECONDS] [CLIENTS]      (defaults: 30 s, 8 clients)
# Needs PostgreSQL server binaries (Debian: apt-get install postgresql) and pgbench.
set -euo pipefail
seconds=${1:-30}
clients=${2:-8}
accounts=10000
here=$(cd "$(dirname "$0")/.." && pwd)

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || {
  echo "PostgreSQL server binaries not found; install them with: apt-get install -y postgresql" >&2
  exit 1
}
command -v pgbench >/dev/null || { echo "pgbench not found (Debian: postgresql-client)" >&2; exit 1; }

# PostgreSQL refuses to run as root: run the cluster as the postgres user when we are root.
as_db_user=()
if [ "$(id -u)" = 0 ]; then as_db_user=(runuser -u postgres --); fi

work=$(mktemp -d /tmp/ets-pg-baseline.XXXXXX)
chmod 777 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cleanup() {
  "${as_db_user[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"${as_db_user[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
"${as_db_user[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=on -c synchronous_commit=on" start >/dev/null

psql_run() { psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql_run <<SQL
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
INSERT INTO accounts SELECT g, 1000000000 FROM generate_series(1, $accounts) g;
CREATE TABLE transfers (id bigserial PRIMARY KEY, debit bigint NOT NULL, credit bigint NOT NULL, amount bigint NOT NULL);
SQL

cat > "$work/transfer.sql" <<SQL
\set debit random(1, $accounts)
\set credit random(1, $accounts)
\set amount random(1, 19999)
BEGIN;
UPDATE accounts SET balance = balance - :amount WHERE id = :debit;
UPDATE accounts SET balance = balance + :amount WHERE id = :credit;
INSERT INTO transfers (debit, credit, amount) VALUES (:debit, :credit, :amount);
COMMIT;
SQL

echo "pgbench: $clients clients for $seconds s on PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ..." >&2
pg_tps=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -c "$clients" -j 2 -T "$seconds" -f "$work/transfer.sql" postgres 2>/dev/null \
  | awk '/^tps = / {print int($3)}')

echo "ets bench ledger (1,000,000 transfers) ..." >&2
ets_json=$(cd "$here" && cargo run --quiet --release -p ets-cli -- bench ledger --transfers 1000000 2>/dev/null)
ets_durable=$(printf '%s' "$ets_json" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["durable"]["transfers_per_second"]))')
ets_memory=$(printf '%s' "$ets_json" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["in_memory"]["transfers_per_second"]))')

cat <<JSON
{
  "workload": "random transfers among $accounts accounts, amounts with mean 10,000 (PostgreSQL: uniform 1..19999; openets: exponential, as TigerBeetle)",
  "postgresql_transfers_per_second": $pg_tps,
  "postgresql_setup": "one transaction per transfer (2 updates + 1 insert), fsync on, $clients clients, $seconds s",
  "openets_durable_transfers_per_second": $ets_durable,
  "openets_in_memory_transfers_per_second": $ets_memory
}
JSON
