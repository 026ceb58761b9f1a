#!/usr/bin/env bash
# Checks a live node's /metrics as Prometheus reads them: starts a
# `kpnode dev` (its API on a port of its own choosing), passes the text
# format through `promtool check metrics` (which fails on a malformed
# exposition and on its lint findings), checks the OpenMetrics answer's
# content type and end, and stops the node however the script ends.
#
# Needs promtool (Debian: apt-get install prometheus) and curl; the kpnode
# is target/debug/kpnode unless KPNODE says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

KPNODE=${KPNODE:-target/debug/kpnode}
# Every wait is bounded: a debug build starting on a busy machine.
READY_SECONDS=60
REQUEST_SECONDS=10

for tool in promtool curl "$KPNODE"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-metrics: $tool is missing" >&2
    exit 1
  fi
done

work=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

KP_PASSPHRASE=dev "$KPNODE" dev --home "$work/dev" --participants BW,EU \
  --api 127.0.0.1:0 >"$work/node.log" 2>&1 &
pid=$!

# The node prints `API        http://127.0.0.1:PORT` once it listens.
url=
for _ in $(seq $((READY_SECONDS * 10))); do
  url=$(sed -n 's/^API *\(http:[^ ]*\)$/\1/p' "$work/node.log")
  if [ -n "$url" ] && curl -sf -o /dev/null --max-time 2 "$url/v1/status"; then
    break
  fi
  url=
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "check-metrics: kpnode exited early:" >&2
    tail -20 "$work/node.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "check-metrics: kpnode did not answer within ${READY_SECONDS}s:" >&2
  tail -20 "$work/node.log" >&2
  exit 1
fi

fail() {
  echo "check-metrics: $*" >&2
  exit 1
}

# The text format, as curl and promtool ask for it.
curl -sf --max-time "$REQUEST_SECONDS" -D "$work/text.headers" -o "$work/text" "$url/metrics"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$work/text.headers" ||
  fail "the text format is not labelled text/plain; version=0.0.4: $(grep -i '^content-type' "$work/text.headers")"
promtool check metrics <"$work/text" || fail "promtool refuses the text format"

# OpenMetrics, as Prometheus asks for it.
accept='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
curl -sf --max-time "$REQUEST_SECONDS" -H "accept: $accept" -D "$work/om.headers" -o "$work/om" "$url/metrics"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0; charset=utf-8' "$work/om.headers" ||
  fail "OpenMetrics is not labelled as such: $(grep -i '^content-type' "$work/om.headers")"
[ "$(tail -n 1 "$work/om")" = "# EOF" ] || fail "OpenMetrics does not end with # EOF"
if grep -q '_total_total' "$work/text" "$work/om"; then
  fail "a counter is named _total twice"
fi
echo "check-metrics: $(grep -c '^# TYPE' "$work/text") metric families pass promtool; OpenMetrics is labelled and ends as it should"
