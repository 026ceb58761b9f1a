#!/usr/bin/env bash
# Cluster benchmark (issue #3): finalized transactions per second and
# submit-to-final latency of four validators on loopback.
#
#   scripts/bench-cluster.sh [bench-cluster flags...]     e.g. --json, --throughput-rate 6000
#
# Builds the release binaries, makes a 4-validator testnet in a temporary
# directory on free loopback ports, starts it with scripts/testnet.sh, runs
# the driver (tests/src/bin/bench-cluster; `--help` lists its flags), and
# stops the testnet whatever happens. The nodes' logs stay behind; the last
# line says where. Every wait is bounded: a stuck cluster ends the run with
# an error, not a hang.
set -euo pipefail
cd "$(dirname "$0")/.."
validators=4

cargo build --release --locked -p kp-node -p kp-tests --bins --quiet
# Wherever cargo puts them (CARGO_TARGET_DIR, .cargo/config).
target=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release"
export KPNODE="$bin/kpnode"
export KP_PASSPHRASE=${KP_PASSPHRASE:-dev}

work=$(mktemp -d -t kp-bench-cluster.XXXXXX)
testnet="$work/testnet"
cleanup() {
  local status=$?
  if [ -f "$testnet/genesis.json" ]; then
    scripts/testnet.sh stop "$testnet" >"$work/stop.log" 2>&1 || cat "$work/stop.log" >&2
  fi
  echo "logs: $testnet/node*.log (driver setup: $work)" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run of free ports: node i takes base+10i (consensus) and base+10i+1
# (gossip); the APIs take api..api+N-1. Asked of the kernel, then checked
# whole, since kpnode testnet wants them consecutive.
free_ports() { # count
  python3 - "$1" <<'EOF'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - count)
    socks = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            socks.append(s)
        print(base)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
sys.exit("no run of free loopback ports found")
EOF
}
base_port=$(free_ports $((10 * validators)))
api_port=$(free_ports "$validators")

"$KPNODE" testnet --validators "$validators" --dir "$testnet" \
  --base-port "$base_port" --api-port "$api_port" >"$work/testnet.log"
scripts/testnet.sh start "$testnet" >"$work/start.log"

"$bin/bench-cluster" --testnet "$testnet" "$@"
