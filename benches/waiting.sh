#!/bin/bash
# Queued submits, closed loop (64 submitters), on an empty service and with 100 000 cases
# waiting, alternated twice: each run a fresh `luotsi serve` with its embedded Redis
# (benches/peers/luotsi.toml). Needs `cargo build --release` first. BENCHMARKS.md, "100 000
# waiting cases".
set -u
out=$(mktemp -d /tmp/luotsi-waiting.XXXXXX)
cd "$(dirname "$0")/.."
cfg=benches/peers/luotsi.toml
one() {
  local name=$1 fill=$2
  local d; d=$(mktemp -d /tmp/rt.XXXX)
  LUOTSI_DATA_DIR=$d RUST_LOG=warn target/release/luotsi --config $cfg serve > $out/$name.log 2>&1 &
  local pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/50151) 2>/dev/null && break; sleep 0.05; done
  if [ "$fill" -gt 0 ]; then
    LUOTSI_DATA_DIR=$d RUST_LOG=warn target/release/luotsi --config $cfg bench --addr http://127.0.0.1:50151 --queue-only --contacts $fill > /dev/null 2>&1
  fi
  local c0; c0=$(awk '{ print $14 + $15 }' /proc/$pid/stat)
  LUOTSI_DATA_DIR=$d RUST_LOG=warn target/release/luotsi --config $cfg bench --addr http://127.0.0.1:50151 --queue-only --contacts 20000 > $out/bench-$name.txt 2>&1
  local c1; c1=$(awk '{ print $14 + $15 }' /proc/$pid/stat)
  echo "$name: $(grep -E 'submitted' $out/bench-$name.txt | sed 's/  */ /g') | $(grep -E 'SubmitContact p50' $out/bench-$name.txt | sed 's/  */ /g') | service CPU s $(awk -v a=$c0 -v b=$c1 'BEGIN{print (b-a)/100}')"
  kill $pid; wait $pid 2>/dev/null; rm -rf $d
}
for r in 1 2; do one empty$r 0; one waiting$r 100000; done
