#!/usr/bin/env bash
# Runs the homes that `kpnode testnet --dir DIR` wrote, one process each, on
# loopback.
#
#   scripts/testnet.sh start DIR    start every node not running (logs: DIR/nodeN.log)
#   scripts/testnet.sh stop DIR     stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/testnet.sh status DIR   each node: pid, height, last block hash
#
# KPNODE names the binary (default: target/release/kpnode, else target/debug/kpnode).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -f "$dir/genesis.json" ] || { echo "$dir/genesis.json not found: run kpnode testnet --dir $dir first" >&2; exit 1; }

root="$(cd "$(dirname "$0")/.." && pwd)"
kpnode=${KPNODE:-}
if [ -z "$kpnode" ]; then
    for candidate in "$root/target/release/kpnode" "$root/target/debug/kpnode"; do
        if [ -x "$candidate" ]; then kpnode=$candidate; break; fi
    done
fi

homes() { find "$dir" -maxdepth 1 -type d -name 'node*' | sort; }
pid_of() { cat "$1/kpnode.pid" 2>/dev/null || true; }
running() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
api_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$1/node.json"; }

case $cmd in
start)
    [ -n "$kpnode" ] || { echo "no kpnode binary: cargo build --release -p kp-node, or set KPNODE" >&2; exit 1; }
    for home in $(homes); do
        name=$(basename "$home")
        pid=$(pid_of "$home")
        if running "$pid"; then echo "$name already running (pid $pid)"; continue; fi
        "$kpnode" run --home "$home" --genesis "$dir/genesis.json" >>"$dir/$name.log" 2>&1 &
        echo $! >"$home/kpnode.pid"
        echo "$name started (pid $!, api http://$(api_of "$home"), log $dir/$name.log)"
    done
    ;;
stop)
    for home in $(homes); do
        pid=$(pid_of "$home")
        if running "$pid"; then kill -TERM "$pid"; fi
    done
    for home in $(homes); do
        pid=$(pid_of "$home")
        for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
        if running "$pid"; then kill -KILL "$pid"; echo "$(basename "$home") killed"; fi
        rm -f "$home/kpnode.pid"
        echo "$(basename "$home") stopped"
    done
    ;;
status)
    for home in $(homes); do
        name=$(basename "$home")
        pid=$(pid_of "$home")
        if running "$pid"; then
            status=$(curl -s --max-time 2 "http://$(api_of "$home")/v1/status" || true)
            summary=$(printf '%s' "$status" | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin); print("height %s  block %s  peers %s  pending %s" % (d["height"], d["last_block_hash"][:12], d["peers"], d["pending_txs"]))
except Exception:
    print("API not answering")')
            echo "$name  pid $pid  $summary"
        else
            echo "$name  stopped"
        fi
    done
    ;;
*) usage ;;
esac
