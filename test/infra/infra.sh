#!/usr/bin/env bash
# Real test infrastructure without Docker: a Kafka 4.1 KRaft broker, Apicurio Registry (Confluent API)
# and the local Postgres, all on 127.0.0.1.
#
#   bash test/infra/infra.sh up      start what is not running (idempotent; reuses running services)
#   bash test/infra/infra.sh down    stop what `up` started from this checkout (by PID file), nothing else
#   bash test/infra/infra.sh status  one line per service, checked with real clients; exit 0 only when all answer
#   bash test/infra/infra.sh env     the environment variables the service / demo use against this infra
#   bash test/infra/infra.sh broker-start DIR   a private extra broker (ports from INFRA_PORT_OFFSET, data in
#                                    DIR, kept across starts) for tests that stop, restart or freeze a broker
#
# State (jars, logs, PID files, broker data, JVM caches) lives in <repo>/.infra/ (git-ignored). Jars come
# from Maven Central through ~/.m2 and are copied once; a re-run downloads nothing. Every cold start is
# a fresh, empty broker and registry.
#
# Ports (INFRA_PORT_OFFSET, default 0, shifts all but Postgres, to run a second isolated copy of the
# infra, e.g. a CI check from another clone while the main one runs; test/support/env.ts reads it too):
#   9092 Kafka PLAINTEXT   9093 KRaft controller   9094 Kafka SASL_PLAINTEXT (SCRAM-SHA-256)
#   8081 Apicurio HTTP     9001 Apicurio management   5432 Postgres (shared)
#
# Java: Apicurio 3.3 needs 21+; Kafka 4.1 needs 17+. Both prefer a Java 25+ (Temurin 25 here), whose AOT
# cache (JEP 483/514) cuts their start time: the first start outside CI records it (written when `down`
# stops the service), later starts load it. KAFKA_JAVA / REGISTRY_JAVA force a given java binary.
set -euo pipefail

APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}" # the Kafka version is in test/infra/kafka/pom.xml
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
INFRA="$REPO/.infra"

OFFSET="${INFRA_PORT_OFFSET:-0}"
[[ "$OFFSET" =~ ^[0-9]+$ ]] || { echo "INFRA_PORT_OFFSET must be a non-negative integer" >&2; exit 2; }
HOST=127.0.0.1
KAFKA_PORT=$((9092 + OFFSET))
CONTROLLER_PORT=$((9093 + OFFSET))
KAFKA_SASL_PORT=$((9094 + OFFSET))
REGISTRY_PORT=$((8081 + OFFSET))
REGISTRY_MGMT_PORT=$((9001 + OFFSET))
PG_PORT=5432
SASL_USER=connector
SASL_PASSWORD=connector-secret
CLUSTER_ID=5L6g3nShT-eMCtK--X86sw # any base64 UUID; fixed so no extra JVM start is needed to make one

KAFKA_DIR="$INFRA/kafka"
KAFKA_PID="$KAFKA_DIR/broker.pid"
KAFKA_LOG="$KAFKA_DIR/broker.log"
REGISTRY_DIR="$INFRA/registry"
REGISTRY_HOME="$REGISTRY_DIR/apicurio-registry-$APICURIO_VERSION"
REGISTRY_PID="$REGISTRY_DIR/registry.pid"
REGISTRY_LOG="$REGISTRY_DIR/registry.log"
REGISTRY_PROBE="http://$HOST:$REGISTRY_PORT/apis/ccompat/v7/subjects"

KAFKA_READY_TIMEOUT_S="${KAFKA_READY_TIMEOUT_S:-120}"
REGISTRY_READY_TIMEOUT_S="${REGISTRY_READY_TIMEOUT_S:-120}"

# ---------------------------------------------------------------------------------------------- helpers

now_ms() { date +%s%3N; }
T0=$(now_ms)
since() { awk -v a="$(now_ms)" -v b="$1" 'BEGIN{printf "%.1fs", (a-b)/1000}'; }
log() { printf '[infra %7s] %s\n' "$(since "$T0")" "$*"; }
die() {
  echo "[infra] ERROR: $*" >&2
  exit 1
}
fail_with_log() {
  echo "[infra] ERROR: $1. Last lines of $2:" >&2
  tail -n 40 "$2" >&2 || true
  exit 1
}

# listening PORT: true when something accepts TCP connections on HOST:PORT.
listening() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# who_listens PORT: the `ss` line of whatever listens there (for error messages).
who_listens() { ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1; }

# owned_pid PIDFILE MARKER: prints the PID when the process in PIDFILE is alive and is really ours
# (its command line mentions MARKER, so a recycled PID is never taken for our service).
owned_pid() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

java_prop() { "$1" -XshowSettings:properties -version 2>&1 | awk -F' = ' -v k="$2" '$1 ~ "^ *"k"$" {print $2; exit}'; }
java_major() { java_prop "$1" java.specification.version; }

# pick_java MIN CANDIDATES...: the first java binary whose major version is >= MIN, trying the given
# candidates, then `java` on the PATH, then every JDK in /usr/lib/jvm.
pick_java() {
  local min="$1" j v
  shift
  for j in "$@" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$j" && -x "$j" ]] || continue
    v="$(java_major "$j")"
    [[ "$v" =~ ^[0-9]+$ ]] && ((v >= min)) && { echo "$j"; return 0; }
  done
  return 1
}

# aot_flags JAVA NAME: Java 25+ AOT cache flags for the service NAME (cache file in .infra, one per
# JVM build): load the cache when it exists; otherwise record one (not in CI, where it would be thrown
# away: recording slows the start a little and the stop by several seconds).
aot_flags() {
  local major cache
  major="$(java_major "$1")"
  ((major >= 25)) || return 0
  cache="$INFRA/$2-$(java_prop "$1" java.runtime.version | tr -c 'A-Za-z0-9.\n-' '_').aot"
  if [[ -s "$cache" ]]; then
    echo "-XX:AOTCache=$cache"
  elif [[ "${CI:-}" != "true" ]]; then
    echo "-XX:AOTCacheOutput=$cache"
  fi
}

# stop_pid PID NAME: SIGTERM (the JVMs shut down cleanly, and write their AOT cache when recording
# one), SIGKILL after 90 s.
stop_pid() {
  local pid="$1" name="$2" i
  grep -qF -- "-XX:AOTCacheOutput" "/proc/$pid/cmdline" 2>/dev/null && log "$name: stopping, writing its AOT cache (once)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 900; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name did not stop within 90 s, killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
}

# start_detached PIDFILE LOGFILE CMD...: runs CMD in its own session (a Ctrl-C on `npm test` or the end
# of a CI step does not take it down), writes its PID, appends its output to LOGFILE.
start_detached() {
  local pidfile="$1" logfile="$2" i
  shift 2
  # 9>&-: the service must not inherit this script's lock (it would hold it for its whole life).
  # shellcheck disable=SC2016 # $$ is expanded by the inner shell on purpose: it becomes the JVM's PID
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  for ((i = 0; i < 100; i++)); do [[ -s "$pidfile" ]] && return 0; sleep 0.05; done
  die "could not start $*"
}

# maven LOGFILE ARGS...: runs mvn quietly; its output goes to LOGFILE and is shown only on failure.
maven() {
  local logfile="$1"
  shift
  if ! mvn -B -q -Dstyle.color=never "$@" </dev/null >"$logfile" 2>&1 9>&-; then
    tail -n 40 "$logfile" >&2
    return 1
  fi
}

# ------------------------------------------------------------------------------------------- postgres

pg_up() { pg_isready -q -h "$HOST" -p "$PG_PORT" -t 2; }

ensure_postgres() {
  local t version
  t=$(now_ms)
  if pg_up; then
    log "postgres: up on $HOST:$PG_PORT"
    return 0
  fi
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$version" ]] || die "postgres does not answer on $HOST:$PG_PORT and there is no cluster in /etc/postgresql"
  log "postgres: not answering, starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    die "could not start postgres (as root: pg_ctlcluster --skip-systemctl-redirect $version main start)"
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || die "postgres started but does not answer on $HOST:$PG_PORT"
  log "postgres: started in $(since "$t")"
}

# ---------------------------------------------------------------------------------------------- kafka

fetch_kafka() {
  local want t
  want="$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)"
  [[ -d "$KAFKA_DIR/libs" && "$(cat "$KAFKA_DIR/libs.stamp" 2>/dev/null)" == "$want" ]] && return 0
  t=$(now_ms)
  log "kafka: copying the broker classpath with Maven (~45 MB, cached in ~/.m2)"
  rm -rf "$KAFKA_DIR/libs.tmp"
  maven "$KAFKA_DIR/mvn.log" -f "$HERE/kafka/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_DIR/libs.tmp" ||
    die "mvn could not fetch the Kafka jars (see above)"
  # New jars invalidate everything derived from the old ones.
  rm -rf "$KAFKA_DIR/libs" "$KAFKA_DIR/data.pristine" "$INFRA"/kafka-*.aot
  mv "$KAFKA_DIR/libs.tmp" "$KAFKA_DIR/libs"
  echo "$want" >"$KAFKA_DIR/libs.stamp"
  log "kafka: $(ls "$KAFKA_DIR/libs" | wc -l) jars in $(since "$t")"
}

# server_properties LOG_DIR: the broker configuration.
server_properties() {
  cat <<EOF
# Generated by test/infra/infra.sh: one combined broker+controller on $HOST, for tests only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
log.dirs=$1

# SASL_PLAINTEXT listener: SCRAM-SHA-256; its user is created by StorageTool format --add-scram.
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
# Internal topics on a single broker: RF 1 and few partitions (the defaults, RF 3 and 50 partitions,
# leave consumer groups without a coordinator or make the first one slow).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
# The first join of a consumer group does not wait the default 3 s.
group.initial.rebalance.delay.ms=0
# Deleted topics' files go 1 s after the delete, not 60 s: tests and the benchmark delete their topics,
# and the deferred deletion of a hundred partitions would otherwise land in the middle of a later run.
log.segment.delete.delay.ms=1000

# Small machine (2 cores).
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
EOF
}

# format_storage JAVA: a fresh data dir. StorageTool runs once per configuration; its result is kept
# in data.pristine and copied, which saves a JVM start on every later cold start.
format_storage() {
  local java="$1" key t
  key="$(server_properties "$KAFKA_DIR/data" | cat - "$KAFKA_DIR/libs.stamp" | sha256sum | cut -d' ' -f1)"
  if [[ "$(cat "$KAFKA_DIR/data.pristine.key" 2>/dev/null)" != "$key" ]]; then
    t=$(now_ms)
    rm -rf "$KAFKA_DIR/data.pristine"
    mkdir -p "$KAFKA_DIR/data.pristine"
    server_properties "$KAFKA_DIR/data.pristine" >"$KAFKA_DIR/format.properties"
    "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" \
      -cp "$KAFKA_DIR/libs/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$KAFKA_DIR/format.properties" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" >>"$KAFKA_LOG" 2>&1 ||
      fail_with_log "kafka: StorageTool format failed" "$KAFKA_LOG"
    echo "$key" >"$KAFKA_DIR/data.pristine.key"
    log "kafka: storage formatted in $(since "$t")"
  fi
  rm -rf "$KAFKA_DIR/data"
  cp -a "$KAFKA_DIR/data.pristine" "$KAFKA_DIR/data"
  server_properties "$KAFKA_DIR/data" >"$KAFKA_DIR/server.properties"
}

# kafka_client_check TIMEOUT_S: a real client round trip on both listeners (SCRAM on the SASL one),
# with kafkajs from node_modules; only a TCP check before `npm ci` has run. An idle kafkajs connection
# arms a negative timer (tulios/kafkajs#1751), which Node >= 23 reports on stderr: that warning is off.
kafka_client_check() {
  if [[ ! -d "$REPO/node_modules/kafkajs" ]]; then
    listening "$KAFKA_PORT" && listening "$KAFKA_SASL_PORT"
    return
  fi
  (cd "$REPO" && node --disable-warning=TimeoutNegativeWarning -e '
    const { Kafka, logLevel } = require("kafkajs");
    const [plain, sasl, username, password, timeoutS] = process.argv.slice(1);
    const deadline = Date.now() + Number(timeoutS) * 1000;
    async function check(broker, saslOptions) {
      let last;
      while (Date.now() < deadline) {
        const admin = new Kafka({ clientId: "infra-check", brokers: [broker], logLevel: logLevel.NOTHING,
          connectionTimeout: 3000, retry: { retries: 0 }, sasl: saslOptions }).admin();
        try {
          await admin.connect();
          const { brokers, controller } = await admin.describeCluster();
          if (brokers.length > 0 && controller !== null) return;
          last = new Error("no controller yet");
        } catch (e) { last = e; } finally { await admin.disconnect().catch(() => {}); }
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(`${broker}: ${last && last.message}`);
    }
    check(plain)
      .then(() => check(sasl, { mechanism: "scram-sha-256", username, password }))
      .then(() => process.exit(0), (e) => { console.error("[infra] kafkajs check failed: " + e.message); process.exit(1); });
  ' "$HOST:$KAFKA_PORT" "$HOST:$KAFKA_SASL_PORT" "$SASL_USER" "$SASL_PASSWORD" "$1")
}

ensure_kafka() {
  local pid t java port
  if pid="$(owned_pid "$KAFKA_PID" "$KAFKA_DIR")"; then
    t=$(now_ms)
    kafka_client_check 30 || fail_with_log "kafka: our broker (pid $pid) runs but does not answer clients" "$KAFKA_LOG"
    log "kafka: already running (pid $pid), checked in $(since "$t")"
    return 0
  fi
  rm -f "$KAFKA_PID"
  for port in "$KAFKA_PORT" "$CONTROLLER_PORT" "$KAFKA_SASL_PORT"; do
    listening "$port" || continue
    if [[ "$port" != "$CONTROLLER_PORT" ]] && kafka_client_check 10; then
      log "kafka: reusing the broker on $HOST:$KAFKA_PORT/$KAFKA_SASL_PORT (not started from this checkout: down leaves it alone)"
      return 0
    fi
    die "$HOST:$port is taken by something that is not a usable test broker: $(who_listens "$port"). Stop it, or set INFRA_PORT_OFFSET."
  done

  java="${KAFKA_JAVA:-$(pick_java 25 /usr/lib/jvm/temurin-25-jdk-amd64/bin/java || pick_java 17 || true)}"
  [[ -n "$java" ]] && (($(java_major "$java") >= 17)) || die "Kafka needs Java 17+; none found (set KAFKA_JAVA)"
  fetch_kafka
  : >"$KAFKA_LOG"
  format_storage "$java"

  t=$(now_ms)
  # shellcheck disable=SC2046 # aot_flags prints zero or one flag
  start_detached "$KAFKA_PID" "$KAFKA_LOG" "$java" -Xms256m -Xmx768m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    $(aot_flags "$java" kafka) -Djava.awt.headless=true "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" \
    -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  pid="$(cat "$KAFKA_PID")"
  local deadline=$(($(now_ms) + KAFKA_READY_TIMEOUT_S * 1000))
  until grep -qF "Kafka Server started" "$KAFKA_LOG"; do
    kill -0 "$pid" 2>/dev/null || fail_with_log "kafka exited during startup" "$KAFKA_LOG"
    (($(now_ms) < deadline)) || fail_with_log "kafka: no \"Kafka Server started\" after ${KAFKA_READY_TIMEOUT_S}s" "$KAFKA_LOG"
    sleep 0.2
  done
  kafka_client_check 60 || fail_with_log "kafka: started but kafkajs cannot use it" "$KAFKA_LOG"
  log "kafka: ready in $(since "$t") (pid $pid, java $(java_major "$java")): PLAINTEXT $HOST:$KAFKA_PORT, SASL/SCRAM $HOST:$KAFKA_SASL_PORT"
}

# ------------------------------------------------------------------------------------------- registry

fetch_registry() {
  [[ -f "$REGISTRY_HOME/quarkus-run.jar" ]] && return 0
  local t name="apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" tarball
  t=$(now_ms)
  tarball="$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/$name"
  if [[ ! -f "$tarball" ]]; then # not in the default local repository yet: one Maven run fetches it
    log "registry: fetching Apicurio Registry $APICURIO_VERSION with Maven (~160 MB, cached in ~/.m2)"
    rm -rf "$REGISTRY_DIR/dl"
    maven "$REGISTRY_DIR/mvn.log" -f "$HERE/kafka/pom.xml" "$DEPENDENCY_PLUGIN:copy" \
      -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" -DoutputDirectory="$REGISTRY_DIR/dl" ||
      die "mvn could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
    tarball="$REGISTRY_DIR/dl/$name"
  fi
  rm -rf "$REGISTRY_HOME.tmp"
  mkdir -p "$REGISTRY_HOME.tmp"
  tar -xzf "$tarball" -C "$REGISTRY_HOME.tmp"
  [[ -f "$REGISTRY_HOME.tmp/quarkus-run.jar" ]] || die "no quarkus-run.jar at the root of $tarball"
  mv "$REGISTRY_HOME.tmp" "$REGISTRY_HOME"
  rm -rf "$REGISTRY_DIR/dl"
  log "registry: unpacked Apicurio Registry $APICURIO_VERSION in $(since "$t")"
}

registry_answers() { curl -fsS -o /dev/null --max-time 3 "$REGISTRY_PROBE" 2>/dev/null; }

ensure_registry() {
  local pid t java deadline
  if pid="$(owned_pid "$REGISTRY_PID" "$REGISTRY_HOME")"; then
    registry_answers || fail_with_log "registry: ours (pid $pid) runs but $REGISTRY_PROBE does not answer" "$REGISTRY_LOG"
    log "registry: already running (pid $pid)"
    return 0
  fi
  rm -f "$REGISTRY_PID"
  if listening "$REGISTRY_PORT"; then
    registry_answers || die "$HOST:$REGISTRY_PORT is taken by something that is not a schema registry: $(who_listens "$REGISTRY_PORT"). Stop it, or set INFRA_PORT_OFFSET."
    log "registry: reusing the registry on $HOST:$REGISTRY_PORT (not started from this checkout: down leaves it alone)"
    return 0
  fi
  listening "$REGISTRY_MGMT_PORT" && die "$HOST:$REGISTRY_MGMT_PORT (registry management) is taken: $(who_listens "$REGISTRY_MGMT_PORT")"

  # Apicurio 3.3 (Quarkus 3.33) is compiled for Java 21.
  java="${REGISTRY_JAVA:-$(pick_java 25 /usr/lib/jvm/temurin-25-jdk-amd64/bin/java || pick_java 21 || true)}"
  [[ -n "$java" ]] && (($(java_major "$java") >= 21)) ||
    die "Apicurio Registry $APICURIO_VERSION needs Java 21+; none found (set REGISTRY_JAVA)"
  fetch_registry

  t=$(now_ms)
  : >"$REGISTRY_LOG"
  # Storage: in-memory H2 (Apicurio's default), so every start is an empty registry.
  # shellcheck disable=SC2046 # aot_flags prints zero or one flag
  start_detached "$REGISTRY_PID" "$REGISTRY_LOG" "$java" -Xms128m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    $(aot_flags "$java" "registry-$APICURIO_VERSION") \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host="$HOST" -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
    -jar "$REGISTRY_HOME/quarkus-run.jar"
  pid="$(cat "$REGISTRY_PID")"
  deadline=$(($(now_ms) + REGISTRY_READY_TIMEOUT_S * 1000))
  until registry_answers; do
    kill -0 "$pid" 2>/dev/null || fail_with_log "registry exited during startup" "$REGISTRY_LOG"
    (($(now_ms) < deadline)) || fail_with_log "registry: $REGISTRY_PROBE does not answer after ${REGISTRY_READY_TIMEOUT_S}s" "$REGISTRY_LOG"
    sleep 0.2
  done
  log "registry: ready in $(since "$t") (pid $pid, java $(java_major "$java")): http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
}

# ------------------------------------------------------------------------------------------- commands

# One infra.sh at a time per checkout (several `npm test` may start together).
with_lock() {
  mkdir -p "$KAFKA_DIR" "$REGISTRY_DIR"
  exec 9>"$INFRA/infra.lock"
  flock -w 600 9 || die "another infra.sh still holds $INFRA/infra.lock after 600 s"
}

cmd_up() {
  with_lock
  # Broker and registry start in parallel (each is mostly one JVM busy on one core).
  ensure_kafka &
  local kafka_job=$! registry_job rc=0
  ensure_registry &
  registry_job=$!
  (ensure_postgres) || rc=1
  wait "$kafka_job" || rc=1
  wait "$registry_job" || rc=1
  ((rc == 0)) || die "the test infrastructure is not up (see above); logs in $INFRA"
  log "all up in $(since "$T0")"
}

cmd_down() {
  with_lock
  local pid
  if pid="$(owned_pid "$KAFKA_PID" "$KAFKA_DIR")"; then stop_pid "$pid" kafka & else log "kafka: not started from this checkout, nothing to stop"; fi
  if pid="$(owned_pid "$REGISTRY_PID" "$REGISTRY_HOME")"; then stop_pid "$pid" registry & else log "registry: not started from this checkout, nothing to stop"; fi
  wait
  rm -f "$KAFKA_PID" "$REGISTRY_PID"
}

# status: who runs each service, and whether it answers a real client (kafkajs on both Kafka
# listeners, the registry's ccompat API, pg_isready). Exit 0 only when all three answer.
cmd_status() {
  local rc=0 pid owner
  owner="not started from this checkout"
  pid="$(owned_pid "$KAFKA_PID" "$KAFKA_DIR")" && owner="pid $pid, log $KAFKA_LOG"
  if kafka_client_check 5 2>/dev/null; then
    echo "kafka:    ok, PLAINTEXT $HOST:$KAFKA_PORT, SASL/SCRAM $HOST:$KAFKA_SASL_PORT ($owner)"
  else
    echo "kafka:    NOT answering on $HOST:$KAFKA_PORT / $HOST:$KAFKA_SASL_PORT"
    rc=3
  fi
  owner="not started from this checkout"
  pid="$(owned_pid "$REGISTRY_PID" "$REGISTRY_HOME")" && owner="pid $pid, log $REGISTRY_LOG"
  if registry_answers; then
    echo "registry: ok, http://$HOST:$REGISTRY_PORT/apis/ccompat/v7 ($owner)"
  else
    echo "registry: NOT answering on $REGISTRY_PROBE"
    rc=3
  fi
  if pg_up; then echo "postgres: ok, $HOST:$PG_PORT"; else echo "postgres: NOT answering on $HOST:$PG_PORT"; rc=3; fi
  return "$rc"
}

cmd_env() {
  cat <<EOF
export KAFKA_BROKERS=$HOST:$KAFKA_PORT
export SCHEMA_REGISTRY_URL=http://$HOST:$REGISTRY_PORT/apis/ccompat/v7
export DATABASE_URL=postgres://postgres@$HOST:$PG_PORT/postgres
# The SASL_PLAINTEXT listener (SCRAM-SHA-256): KAFKA_BROKERS=\$KAFKA_SASL_BROKERS plus the three commented.
export KAFKA_SASL_BROKERS=$HOST:$KAFKA_SASL_PORT
# KAFKA_SASL_MECHANISM=scram-sha-256 KAFKA_SASL_USERNAME=$SASL_USER KAFKA_SASL_PASSWORD=$SASL_PASSWORD
EOF
  ((OFFSET == 0)) || echo "export INFRA_PORT_OFFSET=$OFFSET"
}

# broker-start DIR: starts a private single broker with the shared broker's configuration, its data, log
# and PID file in DIR (formatted on the first start, kept by later ones: a restart keeps its records),
# ports from INFRA_PORT_OFFSET. Prints its PID once kafkajs can use it; the caller stops it by that PID
# (test/support/own-broker.ts). Never touches the shared broker.
cmd_broker_start() {
  local dir="${1:-}" java pid t mark aot deadline port
  [[ -n "$dir" ]] || die "usage: bash test/infra/infra.sh broker-start DIR"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  for port in "$KAFKA_PORT" "$CONTROLLER_PORT" "$KAFKA_SASL_PORT"; do
    listening "$port" && die "$HOST:$port is taken: $(who_listens "$port")"
  done
  java="${KAFKA_JAVA:-$(pick_java 25 /usr/lib/jvm/temurin-25-jdk-amd64/bin/java || pick_java 17 || true)}"
  [[ -n "$java" ]] && (($(java_major "$java") >= 17)) || die "Kafka needs Java 17+; none found (set KAFKA_JAVA)"
  (with_lock && fetch_kafka) >&2
  touch "$dir/broker.log"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    server_properties "$dir/data" >"$dir/server.properties"
    "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" \
      -cp "$KAFKA_DIR/libs/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$dir/server.properties" \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" >>"$dir/broker.log" 2>&1 ||
      fail_with_log "kafka: StorageTool format failed" "$dir/broker.log"
  fi
  # Load the shared broker's AOT cache when there is one; never record one from here.
  aot="$(aot_flags "$java" kafka)"
  [[ "$aot" == -XX:AOTCache=* ]] || aot=""
  mark="$(wc -l <"$dir/broker.log")"
  rm -f "$dir/broker.pid" # the last start's: start_detached waits for a new one
  t=$(now_ms)
  # shellcheck disable=SC2086 # $aot is zero or one flag
  start_detached "$dir/broker.pid" "$dir/broker.log" "$java" -Xms128m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    $aot -Djava.awt.headless=true "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties" \
    -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$dir/server.properties"
  pid="$(cat "$dir/broker.pid")"
  deadline=$(($(now_ms) + KAFKA_READY_TIMEOUT_S * 1000))
  # awk reads the file itself: a `tail | grep -q` pipeline fails under pipefail when grep exits first.
  until awk -v m="$mark" 'NR > m && index($0, "Kafka Server started") { found = 1; exit } END { exit !found }' "$dir/broker.log"; do
    kill -0 "$pid" 2>/dev/null || fail_with_log "kafka exited during startup" "$dir/broker.log"
    (($(now_ms) < deadline)) || fail_with_log "kafka: not started after ${KAFKA_READY_TIMEOUT_S}s" "$dir/broker.log"
    sleep 0.1
  done
  kafka_client_check 60 || fail_with_log "kafka: started but kafkajs cannot use it" "$dir/broker.log"
  log "own broker: ready in $(since "$t") (pid $pid) on $HOST:$KAFKA_PORT, data in $dir/data" >&2
  echo "$pid"
}

case "${1:-}" in
  up) cmd_up ;;
  broker-start) cmd_broker_start "${2:-}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: bash test/infra/infra.sh up|down|status|env|broker-start DIR" >&2
    exit 2
    ;;
esac
