#!/usr/bin/env bash
# Luotsi beside its peers, in one window on one machine (BENCHMARKS.md, "Beside the peers"):
#   1. a plain tonic 0.14 unary echo server driven by h2load (the ceiling of a tonic call here);
#   2. BullMQ 5 adding and processing jobs on a redis-server with an append-only file
#      (appendfsync everysec), the queue a Node.js team would pick instead;
#   3. Luotsi (`luotsi serve`, its embedded Redis with the same append-only settings) driven by
#      `luotsi bench --addr` from another process: submit only (every contact queued), the whole
#      contact (submit → offer on a professional's stream → accept → complete), the whole contact
#      in open loop at half the closed-loop rate, and submit only again with 100 000 cases waiting.
# Every figure comes with the CPU seconds each process used, so the bottleneck shows.
# Usage: benches/peers.sh [contacts per run, default 20000]. Needs h2load
# (apt-get install -y nghttp2-client), node and npm, redis-server; builds what it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-20000}
fill=${FILL:-100000}   # cases waiting for the last run
tools=target/peers
work=$(mktemp -d /tmp/luotsi-peers.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v h2load >/dev/null || { echo "h2load missing: apt-get install -y nghttp2-client" >&2; exit 1; }
echo "building (release) ..." >&2
cargo build --release -q
cargo build --release -q --manifest-path benches/peers/echo/Cargo.toml --target-dir "$tools/echo"
[ -d "$tools/node_modules/bullmq" ] ||
  npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --silent bullmq@5
luotsi=./target/release/luotsi
config=benches/peers/luotsi.toml

hz=$(getconf CLK_TCK)
# CPU seconds (user + system) a running process has used so far.
cpu() { awk -v hz="$hz" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# CPU seconds of a finished command run under /usr/bin/time -f '%U %S' -o FILE.
cpu_of() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }
diff2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing listens on port $1" >&2
  exit 1
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "## window $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The tonic echo server.
"$tools/echo/release/echo" & pids+=($!); echo_pid=$!
wait_port 7050
c0=$(cpu "$echo_pid")
/usr/bin/time -f '%U %S' -o "$work/h2load.cpu" \
  h2load -n 200000 -c 32 -m 16 -d benches/peers/echo/echo_req.bin \
  -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:7050/echo.Echo/Say \
  >"$work/echo.txt"
echo_rate=$(awk '/^finished in/ { gsub(",", ""); print int($4) }' "$work/echo.txt")
echo "echo (tonic, h2load -c 32 -m 16): ${echo_rate} calls/s; CPU s: server $(diff2 "$c0" "$(cpu "$echo_pid")"), h2load $(cpu_of "$work/h2load.cpu")"
kill "$echo_pid"

# 2. BullMQ on its own redis-server.
port=$(free_port)
mkdir -p "$work/bullmq"
redis-server --port "$port" --bind 127.0.0.1 --dir "$work/bullmq" --appendonly yes \
  --appendfsync everysec --save '' --logfile "$work/bullmq/redis.log" & pids+=($!); redis_pid=$!
wait_port "$port"
c0=$(cpu "$redis_pid")
/usr/bin/time -f '%U %S' -o "$work/node.cpu" \
  env NODE_PATH="$tools/node_modules" node benches/peers/bullmq_bench.js "$port" "$n" 64 64 \
  >"$work/bullmq.json"
echo "bullmq (64 producers, worker concurrency 64): $(cat "$work/bullmq.json"); CPU s: redis $(diff2 "$c0" "$(cpu "$redis_pid")"), node $(cpu_of "$work/node.cpu")"
kill "$redis_pid"

# 3. Luotsi: a fresh service (and embedded Redis) per run, so no run sees another's cases.
grpc_port=$(awk -F'"' '/^grpc_addr/ { split($2, a, ":"); print a[2] }' "$config")
serve() {
  export LUOTSI_DATA_DIR="$work/luotsi-$1"
  RUST_LOG=warn "$luotsi" --config "$config" serve >"$work/serve-$1.log" 2>&1 & pids+=($!)
  serve_pid=$!
  wait_port "$grpc_port"
  for _ in $(seq 100); do
    redis_pid=$(pgrep -P "$serve_pid" redis-server || true)
    [ -n "$redis_pid" ] && break
    sleep 0.05
  done
}
stop() {
  kill "$serve_pid"
  wait "$serve_pid" 2>/dev/null || true
}
# Runs `luotsi bench --addr` against the running service; prints its report and each process's
# CPU seconds during the run.
bench() {
  local name=$1; shift
  local s0 r0
  s0=$(cpu "$serve_pid"); r0=$(cpu "$redis_pid")
  /usr/bin/time -f '%U %S' -o "$work/bench.cpu" \
    env RUST_LOG=warn "$luotsi" --config "$config" bench --addr "http://127.0.0.1:$grpc_port" "$@" \
    >"$work/$name.txt"
  echo "luotsi $name ($*):"
  sed 's/^/  /' "$work/$name.txt"
  echo "  CPU s: luotsi serve $(diff2 "$s0" "$(cpu "$serve_pid")"), its redis $(diff2 "$r0" "$(cpu "$redis_pid")"), bench client $(cpu_of "$work/bench.cpu")"
}
rate_of() { awk '/submitted/ { for (i = 1; i <= NF; i++) if ($i == "=") { print int($(i + 1)); exit } }' "$work/$1.txt"; }
assigned_of() { awk '/assigned/ { for (i = 1; i <= NF; i++) if ($i == "=") { print int($(i + 1)); exit } }' "$work/$1.txt"; }

serve submit
bench submit-only --contacts "$n" --queue-only
stop

serve contact
bench contact --contacts "$n"
stop

full=$(assigned_of contact)
half=$((full / 2))
serve half
bench half-rate --contacts $((half * 20)) --rate "$half" --submitters 32
stop

serve waiting
bench fill --contacts "$fill" --queue-only >/dev/null
bench submit-100k-waiting --contacts "$n" --queue-only
stop

add=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["add_per_s"])' "$work/bullmq.json")
processed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["process_per_s"])' "$work/bullmq.json")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "## ratios (same window)"
echo "SubmitContact (queued) / BullMQ add:            $(ratio "$(rate_of submit-only)" "$add")"
echo "whole contact (assigned) / BullMQ processed:    $(ratio "$full" "$processed")"
echo "SubmitContact (queued) / tonic echo:            $(ratio "$(rate_of submit-only)" "$echo_rate")"
echo "submit with 100k waiting / submit empty:        $(ratio "$(rate_of submit-100k-waiting)" "$(rate_of submit-only)")"
