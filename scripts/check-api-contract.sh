#!/usr/bin/env bash
# The API's contract, checked against a live node (docs/api.md#the-contract):
# schemathesis makes requests from the OpenAPI document a `kpnode dev` serves
# (docs/openapi.json) and checks every answer against it: no 5xx, each status,
# content type and body as documented, each error `{"error": {"code",
# "message"}}` with a code of its route's list and of docs/errors.md. The
# chain is first given records to read, by the README's walkthrough.
#
# Usage: scripts/check-api-contract.sh [more `schemathesis run` options]
#   KP_CONTRACT_EXAMPLES  examples per operation and phase (default 40)
#   KP_CONTRACT_SECONDS   the most schemathesis may take (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SCHEMATHESIS_VERSION=4.32.5
examples=${KP_CONTRACT_EXAMPLES:-40}
seconds=${KP_CONTRACT_SECONDS:-300}

# A venv of its own per version, kept between runs: pip needs PyPI only once.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/kp/schemathesis-$SCHEMATHESIS_VERSION"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# As scripts/test builds them, so that after it this builds nothing.
cargo build --workspace --bins --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export PATH="$target_dir/debug:$PATH"

work=$(mktemp -d)
node_pid=
stop_node() {
  [ -n "$node_pid" ] || return 0
  kill -TERM "$node_pid" 2>/dev/null || true
  # A node finishes the block it commits, then stops: seconds at most.
  for _ in $(seq 100); do
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=
}
trap 'stop_node; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

echo "== kpnode dev in $work"
export KP_PASSPHRASE=dev DEV="$work/dev"
kpnode dev --home "$DEV" --api 127.0.0.1:0 --participants BW,EU,ZA >"$work/node.log" 2>&1 &
node_pid=$!
url=
for _ in $(seq 300); do
  url=$(grep -om1 'http://127\.0\.0\.1:[0-9]*' "$work/node.log" || true)
  [ -n "$url" ] && break
  if ! kill -0 "$node_pid" 2>/dev/null; then
    cat "$work/node.log" >&2
    echo "kpnode dev stopped before serving its API" >&2
    exit 1
  fi
  sleep 0.2
done
if [ -z "$url" ]; then
  tail -20 "$work/node.log" >&2
  echo "kpnode dev did not serve its API within 60 s" >&2
  exit 1
fi
export KP_NODE=$url
echo "   API at $url"

echo "== records to read: the README's walkthrough, an open offer and an open proposal"
mkdir "$work/wallet"
walkthrough=$(sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' README.md | sed '/^```/d;/^<!--/d')
if ! (
  cd "$work/wallet"
  bash -euo pipefail -c "$walkthrough
    OPEN=\$(kp transfer offer --key sorter.key --parcel \$KEEP --to \$TRADER)
    PROPOSAL=\$(kp participant propose --key \$DEV/keys/BW.key --suspend ZA)
    echo \$PARCEL \$EXPORT \$KEEP \$OFFER \$OPEN \$PROPOSAL \$MINER \$TRADER \$SORTER \$EXPORTER \$IMPORTER >ids"
) >"$work/walkthrough.log" 2>&1; then
  tail -30 "$work/walkthrough.log" >&2
  echo "the walkthrough failed against the node" >&2
  exit 1
fi
# What the hooks put in positive cases now and then (scripts/api_contract_hooks.py).
KP_CONTRACT_SAMPLES=$(python3 - "$url" $(cat "$work/wallet/ids") <<'EOF'
import datetime, json, sys, urllib.request
url, parcel, export, keep, offer, open_offer, proposal, *keys = sys.argv[1:]
with urllib.request.urlopen(f"{url}/v1/parcels/{parcel}", timeout=10) as answer:
    txs = [event["tx"] for event in json.load(answer)["events"]]
parcels = {"id": [parcel, export, keep, keep[:8]]}
heights = {"height": ["1", "2", "latest"]}
codes = ["BW", "EU", "ZA"]
year = datetime.date.today().year
print(json.dumps({
    "/v1/transactions/{id}": {"id": txs},
    "/v1/nonces/{key}": {"key": keys},
    "/v1/members/{key}": {"key": keys},
    "/v1/proposals/{id}": {"id": [proposal]},
    "/v1/parcels/{id}": parcels,
    "/v1/parcels/{id}/trace": parcels,
    "/v1/parcels/{id}/bundle": parcels,
    "/v1/transfers/{id}": {"id": [offer, open_offer]},
    "/v1/certificates/{number}": {"number": ["BW-2026-000001"]},
    "/v1/blocks/{height}": heights,
    "/v1/blocks/{height}/commit": heights,
    "/v1/stats": {"participant": codes, "year": [year]},
    "/v1/stats/all": {"year": [year]},
    "/v1/anomalies": {"participant": codes},
}))
EOF
)
export KP_CONTRACT_SAMPLES
export SCHEMATHESIS_HOOKS="$repo/scripts/api_contract_hooks.py"
# Hypothesis keeps its files there, not in the work tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$work/hypothesis"

echo "== schemathesis $SCHEMATHESIS_VERSION: $examples examples per operation and phase, at most ${seconds} s"
started=$SECONDS
status=0
# `--max-time` would fuzz until the time is spent: the examples bound the
# run, and `timeout` only a run gone wrong.
timeout --kill-after=10 "$seconds" \
  "$venv/bin/schemathesis" --config-file scripts/api-contract.toml run "$url/v1/openapi.json" \
  --max-examples "$examples" "$@" || status=$?
echo "   schemathesis ran $((SECONDS - started)) s"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "schemathesis did not finish within $seconds s" >&2
fi
if ! kill -0 "$node_pid" 2>/dev/null; then
  tail -20 "$work/node.log" >&2
  echo "kpnode dev died during the run" >&2
  exit 1
fi
exit "$status"
