#!/usr/bin/env bash
# Trace latency at the API, a Participant's yearly statistics at the API,
# bytes on disk per transaction and the node's resident memory, in ledgers
# of 10,000 and 1,000,000 transactions.
#
#   scripts/bench-trace.sh [SIZES...]      (default: 10000 1000000)
#
# For each size: `kpnode dev` creates a home and stops; `ledger-fill` commits
# that many real transactions into it (including a parcel with 50 ancestors);
# `kpnode dev` restarts on it and `curl` asks for the deep parcel's trace 300
# times (after 20 warm-up requests), then BW's statistics for the year of the
# last block (`/v1/stats?participant=BW&year=Y`) as many times. It also
# times the restart on the filled ledger until the API answers (`open_s`:
# the database opening, and the parcel commitment's tree rebuilt from its
# stored bucket hashes). Everything runs on loopback and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 1000000)
requests=300

cargo build --release --bins --quiet
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
work=$(mktemp -d)
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_node() { # home port
  KP_PASSPHRASE=dev RUST_LOG=warn "$bin/kpnode" dev --home "$1" --participants BW,EU --api "127.0.0.1:$2" >"$1.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$2/v1/status" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "kpnode did not start; see $1.log" >&2; exit 1
}

stop_node() {
  kill -TERM "$node_pid"; wait "$node_pid" || true; node_pid=""
}

printf '%-10s %-10s %-10s %-10s %-12s %-14s %-10s %-14s %-14s %-8s\n' txs p50_ms p90_ms p99_ms events bytes_per_tx rss_mib stats_p50_ms stats_p99_ms open_s
for size in "${sizes[@]}"; do
  home="$work/home-$size"; port=$(free_port)
  start_node "$home" "$port"; stop_node
  deep=$("$bin/ledger-fill" --home "$home" --txs "$size" 2>"$home.fill.log") || { cat "$home.fill.log" >&2; exit 1; }
  grep -E "committed;|filled:" "$home.fill.log" | sed 's/^/  /' >&2
  opening=$(date +%s.%N)
  start_node "$home" "$port"
  open_s=$(python3 -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$opening")
  url="http://127.0.0.1:$port/v1/parcels/$deep/trace"
  events=$(curl -fs "$url" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["events"]))')
  for _ in $(seq 1 20); do curl -fs -o /dev/null "$url"; done
  for _ in $(seq 1 "$requests"); do curl -fs -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n >"$home.times"
  pct() { awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; printf "%.2f", a[i]*1000}' "$2"; }
  year=$(curl -fs "http://127.0.0.1:$port/v1/status" | python3 -c 'import json,sys,time; print(time.gmtime(json.load(sys.stdin)["time"]).tm_year)')
  stats="http://127.0.0.1:$port/v1/stats?participant=BW&year=$year"
  for _ in $(seq 1 20); do curl -fs -o /dev/null "$stats"; done
  for _ in $(seq 1 "$requests"); do curl -fs -o /dev/null -w '%{time_total}\n' "$stats"; done | sort -n >"$home.stats-times"
  curl -fs "$stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  BW %s: production %s ct, exports %s ct in %d certificates" % (d["year"], d["production"]["total"]["total"]["carats"], d["exports"]["total"]["total"]["carats"], d["exports"]["total"]["total"]["certificates"]))' >&2
  rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$node_pid/status")
  db_bytes=$(stat -c %s "$home/data/ledger.redb")
  stop_node
  printf '%-10s %-10s %-10s %-10s %-12s %-14s %-10s %-14s %-14s %-8s\n' "$size" "$(pct 50 "$home.times")" \
    "$(pct 90 "$home.times")" "$(pct 99 "$home.times")" "$events" "$((db_bytes / size))" "$((rss_kib / 1024))" \
    "$(pct 50 "$home.stats-times")" "$(pct 99 "$home.stats-times")" "$open_s"
done
