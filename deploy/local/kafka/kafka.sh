#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) run from the
# jars on Maven Central, for development and the integration tests. No Docker, no tarball.
#
#   kafka.sh start    download jars if needed, format storage once, start, wait until ready
#   kafka.sh stop     stop the broker this script started (pid file); no-op otherwise
#   kafka.sh status   exit 0 when a broker answers on the port, 3 when none does
#   kafka.sh wait     wait until a broker answers on the port (started by anyone)
#
# Environment:
#   KAFKA_PORT             client port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   KAFKA_DATA_DIR         storage, logs and pid file (default: data/ beside this script)
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness after launch (default 120)
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   KAFKA_WAIT_TIMEOUT     seconds for `wait` (default 60)
#   KAFKA_LEASE_HOLDER     set by test/support/kafka.ts to its process id (see "Leases" in this file)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
DATA_DIR=${KAFKA_DATA_DIR:-$SCRIPT_DIR/data}
# A relative KAFKA_DATA_DIR means relative to where the caller stands, as with any path.
case $DATA_DIR in /*) ;; *) DATA_DIR=$PWD/$DATA_DIR ;; esac
LIB_DIR=$SCRIPT_DIR/lib
STORAGE_DIR=$DATA_DIR/storage
LOG_DIR=$DATA_DIR/logs
PID_FILE=$DATA_DIR/kafka.pid
OWNER_FILE=$DATA_DIR/kafka.owner
LEASE_DIR=$DATA_DIR/leases
OUT_FILE=$DATA_DIR/kafka.out
LOCK_FILE=$DATA_DIR/kafka.lock
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
WAIT_TIMEOUT=${KAFKA_WAIT_TIMEOUT:-60}
LEASE_HOLDER=${KAFKA_LEASE_HOLDER:-}
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SCRIPT_DIR/pom.xml")

# Leases: test files run in parallel processes, each calling `start` and later `stop`.
# A process passes its pid as KAFKA_LEASE_HOLDER; `start` records a lease for it and
# `stop` drops it, stopping the broker only when no live process still holds one and the
# broker was started on behalf of a test (never one started by hand or by someone else).

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# The lock serialises start and stop across processes (parallel test files, two shells).
lock() {
  mkdir -p "$DATA_DIR"
  command -v flock >/dev/null || return 0
  exec 9>"$LOCK_FILE"
  flock -w 900 9 || die "another kafka.sh holds $LOCK_FILE for too long"
}

# The pid file alone is not trusted: after a reboot or crash its pid may belong to an
# unrelated process, so the command line must be a broker on this data directory.
broker_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  [[ $cmdline == *kafka.Kafka* && $cmdline == *"log.dirs=$STORAGE_DIR"* ]] || return 1
  echo "$pid"
}

# 0: a Kafka broker answers; 2: nothing listens; 3: something else holds the port.
probe() {
  local rc=0
  node "$SCRIPT_DIR/wait.mjs" --broker "$HOST:$PORT" --once 9>&- || rc=$?
  return "$rc"
}

take_lease() {
  [[ -n $LEASE_HOLDER ]] || return 0
  mkdir -p "$LEASE_DIR"
  echo "$1" >"$LEASE_DIR/$LEASE_HOLDER"
  # The one line on stdout, read by test/support/kafka.ts to learn whether it started the broker.
  echo "$1"
}

live_leases() {
  local count=0 file
  for file in "$LEASE_DIR"/*; do
    [[ -e $file ]] || continue
    if kill -0 "$(basename "$file")" 2>/dev/null; then
      count=$((count + 1))
    else
      rm -f "$file"
    fi
  done
  echo "$count"
}

fetch_jars() {
  local stamp
  stamp=$(sha256sum "$SCRIPT_DIR/pom.xml" | cut -d' ' -f1)
  if [[ -f $LIB_DIR/.pom.sha256 && $(<"$LIB_DIR/.pom.sha256") == "$stamp" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to download the Kafka jars"
  say "downloading jars for Kafka $VERSION from Maven Central…"
  # Into a temporary directory first, so an interrupted download never looks complete and a
  # broker already running from lib/ keeps its classpath until the swap.
  local tmp log=$LOG_DIR/maven.out
  tmp=$(mktemp -d "$SCRIPT_DIR/lib.tmp.XXXXXX")
  mkdir -p "$LOG_DIR"
  # Maven's output goes to a file and is shown only on failure: even with -q -B,
  # Maven 3.8 prints stray colour codes.
  if ! mvn -B -f "$SCRIPT_DIR/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1 9>&-; then
    grep -E '^\[(ERROR|WARNING)\]' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (full output in $log)"
  fi
  echo "$stamp" >"$tmp/.pom.sha256"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
}

# The same overrides serve the formatter (which takes no --override) and the broker.
overrides() {
  printf '%s\n' \
    "log.dirs=$STORAGE_DIR" \
    "listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT" \
    "advertised.listeners=PLAINTEXT://$HOST:$PORT" \
    "controller.quorum.voters=1@$HOST:$CONTROLLER_PORT"
}

java_opts() {
  # shellcheck disable=SC2206 # KAFKA_HEAP_OPTS is a list of JVM flags, split on purpose
  JAVA_OPTS=($HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties"
    "-Dkafka.logs.dir=$LOG_DIR"
    -cp "$LIB_DIR/*")
}

format_storage() {
  [[ -f $STORAGE_DIR/meta.properties ]] && return 0
  say "formatting storage in $STORAGE_DIR…"
  mkdir -p "$STORAGE_DIR" "$LOG_DIR"
  local config=$DATA_DIR/format.properties
  { cat "$SCRIPT_DIR/server.properties"; overrides; } >"$config"
  # A Kafka cluster id is 16 random bytes in unpadded URL-safe base64. Like Kafka's own
  # generator, never one that begins with "-", which command-line tools take for a flag.
  local cluster_id=-
  while [[ $cluster_id == -* ]]; do
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  java_opts
  if ! java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format \
    --cluster-id "$cluster_id" --config "$config" >"$LOG_DIR/format.out" 2>&1 9>&-; then
    cat "$LOG_DIR/format.out" >&2
    die "formatting $STORAGE_DIR failed"
  fi
  rm -f "$config"
}

# kafka.out holds the JVM's own output and the broker's warnings and errors; the causes
# are what a reader needs, not the stack frames between them.
show_logs() {
  if [[ ! -s $OUT_FILE ]]; then
    say "the JVM printed nothing; see $LOG_DIR/server.log"
    return 0
  fi
  say "from $OUT_FILE:"
  if grep -qE '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$OUT_FILE"; then
    grep -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$OUT_FILE" | tail -n 8 >&2
  else
    tail -n 15 "$OUT_FILE" >&2
  fi
}

# SIGTERM lets the broker close its logs cleanly, which keeps the next start fast
# (no log recovery); SIGKILL only if that hangs.
terminate() {
  local pid=$1 waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= STOP_TIMEOUT * 5)); then
      say "pid $pid did not stop within ${STOP_TIMEOUT}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE" "$OWNER_FILE"
}

cmd_start() {
  local began=$SECONDS pid rc
  command -v node >/dev/null || die "node is needed for the readiness check"
  lock

  if pid=$(broker_pid); then
    if [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") != *"advertised.listeners=PLAINTEXT://$HOST:$PORT "* ]]; then
      die "the broker from $PID_FILE (pid $pid) listens on another port than $PORT; stop it first"
    fi
    # Started by an earlier call; it may still be coming up if that call was interrupted.
    node "$SCRIPT_DIR/wait.mjs" --broker "$HOST:$PORT" --timeout "$START_TIMEOUT" --pid "$pid" 9>&- ||
      die "the broker from $PID_FILE (pid $pid) does not answer on $HOST:$PORT"
    say "already running on $HOST:$PORT (Kafka $VERSION, pid $pid)"
    take_lease reused
    return 0
  fi
  rm -f "$PID_FILE" "$OWNER_FILE"

  rc=0
  probe || rc=$?
  case $rc in
    0)
      say "reusing the broker already answering on $HOST:$PORT (not started by this script, so stop leaves it alone)"
      take_lease reused
      return 0
      ;;
    2) ;;
    *) die "port $PORT on $HOST is taken by something that is not a ready Kafka broker" ;;
  esac

  command -v java >/dev/null || die "java (17 or newer) is needed to run the broker"
  fetch_jars
  format_storage

  say "starting Kafka $VERSION on $HOST:$PORT (controller $CONTROLLER_PORT, data in $DATA_DIR)…"
  mkdir -p "$LOG_DIR"
  java_opts
  local args=()
  local override
  while IFS= read -r override; do args+=(--override "$override"); done < <(overrides)
  # setsid: the broker must outlive the shell or test process that started it and must not
  # receive the terminal's Ctrl-C meant for that process. fd 9 is the lock: not inherited.
  setsid java "${JAVA_OPTS[@]}" kafka.Kafka "$SCRIPT_DIR/server.properties" "${args[@]}" \
    >"$OUT_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  if [[ -n $LEASE_HOLDER ]]; then echo lease >"$OWNER_FILE"; else echo manual >"$OWNER_FILE"; fi

  rc=0
  node "$SCRIPT_DIR/wait.mjs" --broker "$HOST:$PORT" --timeout "$START_TIMEOUT" --pid "$pid" 9>&- || rc=$?
  if ((rc != 0)); then
    show_logs
    if kill -0 "$pid" 2>/dev/null; then terminate "$pid"; else rm -f "$PID_FILE" "$OWNER_FILE"; fi
    die "the broker did not become ready (logs in $LOG_DIR)"
  fi
  say "ready on $HOST:$PORT (Kafka $VERSION, pid $pid, $((SECONDS - began))s)"
  take_lease started
}

cmd_stop() {
  if [[ ! -d $DATA_DIR ]]; then
    say "nothing to stop: no broker started by this script from $DATA_DIR"
    return 0
  fi
  lock
  local pid
  if [[ -n $LEASE_HOLDER ]]; then
    rm -f "$LEASE_DIR/$LEASE_HOLDER"
    local others
    others=$(live_leases)
    if ((others > 0)); then
      say "leaving the broker running for $others other test process(es)"
      return 0
    fi
    if [[ $(cat "$OWNER_FILE" 2>/dev/null) != lease ]]; then
      # Started by hand or by someone else: the tests borrowed it and leave it as found.
      say "leaving the broker running (the tests did not start it)"
      return 0
    fi
  fi
  if ! pid=$(broker_pid); then
    rm -f "$PID_FILE" "$OWNER_FILE"
    say "nothing to stop: no broker started by this script from $DATA_DIR"
    return 0
  fi
  say "stopping the broker (pid $pid)…"
  terminate "$pid"
  say "stopped"
}

cmd_status() {
  local pid rc=0
  probe || rc=$?
  if pid=$(broker_pid); then
    if ((rc == 0)); then
      echo "kafka: running on $HOST:$PORT (Kafka $VERSION, pid $pid, data in $DATA_DIR)"
      return 0
    fi
    echo "kafka: pid $pid is running but does not answer on $HOST:$PORT yet"
    return 3
  fi
  case $rc in
    0) echo "kafka: a broker not started by this script answers on $HOST:$PORT" ;;
    2) echo "kafka: not running" && return 3 ;;
    *) echo "kafka: port $PORT on $HOST is taken by something that is not a ready Kafka broker" && return 3 ;;
  esac
}

cmd_wait() {
  command -v node >/dev/null || die "node is needed for the readiness check"
  node "$SCRIPT_DIR/wait.mjs" --broker "$HOST:$PORT" --timeout "$WAIT_TIMEOUT" ||
    die "no ready broker on $HOST:$PORT after ${WAIT_TIMEOUT}s"
  say "ready on $HOST:$PORT"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  *) usage ;;
esac
