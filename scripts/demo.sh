#!/usr/bin/env bash
# The whole pipeline on this machine, no Docker, on Node 24 (scripts/ensure-node.sh fetches it when the
# machine's node is another): starts a local Kafka broker (and schema registry) with test/infra/infra.sh,
# uses the local Postgres, migrates, adds a demo subscription, starts a demo receiver that verifies every
# signature, starts the connector, produces sample Tiledesk events and shows the verified deliveries.
# Everything it starts is stopped by PID at the end (the broker stays up; stop it with
# `bash test/infra/infra.sh down`). `--keep` keeps connector and receiver running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=${1:-}
WORK=.infra/demo
mkdir -p "$WORK"

PATH="$(bash scripts/ensure-node.sh):$PATH" # the image's runtime, for npm ci and every command below
bash scripts/npm-deps.sh # npm ci unless node_modules is complete and matches package.json
bash test/infra/infra.sh up

DB=webhook_connector_demo
psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='$DB'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $DB"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export KAFKA_BROKERS=127.0.0.1:9092 KAFKA_TOPICS=tiledesk.demo.events KAFKA_GROUP_ID=webhook-connector-demo
export KAFKA_FROM_BEGINNING=true TARGET_ALLOW_CIDRS=127.0.0.1/32 OPS_HOST=127.0.0.1 OPS_PORT=9464 LOG_LEVEL=info
CLI=(node --import tsx src/cli.ts)
RECEIVER_PORT=4000

"${CLI[@]}" migrate
psql "$DATABASE_URL" -qc "delete from webhook_subscriptions where created_by = 'demo'"
"${CLI[@]}" subscriptions add --project demo-project --event request.create --target "http://127.0.0.1:$RECEIVER_PORT/tiledesk" --created-by demo | tee "$WORK/subscription.txt"
"${CLI[@]}" subscriptions add --project demo-project --event message.create --target "http://127.0.0.1:$RECEIVER_PORT/tiledesk" --created-by demo | tee -a "$WORK/subscription.txt"
SECRET1=$(grep '^secret:' "$WORK/subscription.txt" | sed -n 1p | cut -d' ' -f2)
SECRET2=$(grep '^secret:' "$WORK/subscription.txt" | sed -n 2p | cut -d' ' -f2)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  done
}
trap cleanup EXIT

# Two subscriptions, two secrets: one receiver process per secret keeps the demo receiver simple.
"${CLI[@]}" demo-receiver --port "$RECEIVER_PORT" --secret "$SECRET1" > "$WORK/receiver.log" 2>&1 &
pids+=($!)
"${CLI[@]}" demo-receiver --port $((RECEIVER_PORT + 1)) --secret "$SECRET2" > "$WORK/receiver2.log" 2>&1 &
pids+=($!)
psql "$DATABASE_URL" -qc "update webhook_subscriptions set target = 'http://127.0.0.1:$((RECEIVER_PORT + 1))/tiledesk' where created_by = 'demo' and event = 'message.create'"
"${CLI[@]}" produce-sample --count 1 --event request.create > /dev/null # makes sure the topic exists
"${CLI[@]}" run > "$WORK/connector.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:9464/readyz" > /dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:9464/readyz" || { echo "connector not ready; see $WORK/connector.log"; tail -20 "$WORK/connector.log"; exit 1; }
echo

"${CLI[@]}" produce-sample --count 12
# 12 events cycle request.create, message.create, lead.create, request.close: 3 + 3 delivered (+1 earlier).
for _ in $(seq 1 60); do
  n=$(cat "$WORK/receiver.log" "$WORK/receiver2.log" | grep -c '^VERIFIED' || true)
  [ "$n" -ge 7 ] && break
  sleep 0.5
done
echo "--- deliveries seen by the demo receivers"
cat "$WORK/receiver.log" "$WORK/receiver2.log" | grep -E '^(VERIFIED|REJECTED)'
echo "--- connector metrics"
curl -fsS http://127.0.0.1:9464/metrics | grep -E '^webhook_connector_(events_consumed|events_unmatched|deliveries|dead_letters|consumer_lag)'
n=$(cat "$WORK/receiver.log" "$WORK/receiver2.log" | grep -c '^VERIFIED' || true)
if [ "$n" -lt 7 ]; then echo "expected 7 verified deliveries, saw $n; logs in $WORK/"; exit 1; fi
echo "OK: $n deliveries verified end to end (logs in $WORK/)"
if [ "$KEEP" = "--keep" ]; then
  echo "connector and receivers keep running (metrics on http://127.0.0.1:9464/metrics); Ctrl-C to stop"
  "${CLI[@]}" produce-sample --help > /dev/null
  wait
fi
