#!/bin/sh
# Runs every measurement of bench/README.md and writes bench/results/.
# Run from the repository root: sh bench/sweep.sh [quick]
# "quick" skips the 10M-record run; OUT=dir writes elsewhere.
set -eu
out=${OUT:-bench/results}
mkdir -p "$out"
bin=$(mktemp -d)/bench
go build -o "$bin" ./bench
log() { echo "== $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg): $*" >&2; }

# Throughput against partitions (internal/gen's pages, ~1.1k keys).
for p in 1 4 16 64; do
	log "partitions $p"
	"$bin" -partitions "$p" -messages 1000000 -runs 3 -json "$out/partitions-$p.json"
done
# CPU profile of the engine at 64 partitions (driver overhead target).
log "profile 64 partitions"
"$bin" -partitions 64 -messages 1000000 -runs 1 -skip confluent,franz,decode -cpuprofile "$out/engine-64p.pprof" >/dev/null

# Throughput against distinct group keys (4 partitions).
for k in 10 10000 1000000; do
	log "keys $k"
	"$bin" -partitions 4 -keys "$k" -messages 1000000 -runs 3 -skip decode -json "$out/keys-$k.json"
done

# 1M keys with the query in update mode: only the changed groups are
# output.
log "keys 1000000, update mode"
"$bin" -partitions 4 -keys 1000000 -messages 1000000 -runs 3 -skip decode -output-mode update -json "$out/update-keys-1000000.json"

# CPU profile of the engine with 1M keys (complete-mode result cost).
log "profile 1M keys"
"$bin" -partitions 4 -keys 1000000 -messages 1000000 -runs 1 -skip confluent,franz,decode -cpuprofile "$out/engine-keys1M.pprof" >/dev/null

# CSV records end to end.
log "csv"
"$bin" -partitions 4 -format csv -messages 1000000 -runs 3 -skip decode -json "$out/csv-4.json"

# processingTime intervals below capacity.
for iv in 100ms 1s 5s; do
	log "interval $iv"
	"$bin" -scenario interval -interval "$iv" -rate 50000 -partitions 4 -json "$out/interval-$iv.json"
done

# State growth: 10M-key running count through the checkpoint.
log "state"
"$bin" -scenario state -state-keys 10000000 -json "$out/state-10M.json"

if [ "${1:-}" != quick ]; then
	# Peak RSS against topic size: same batch size (25k per partition) as
	# partitions-4.json, ten times the records.
	log "10M records"
	"$bin" -partitions 4 -messages 10000000 -max-rate 25000 -runs 1 -skip decode -json "$out/messages-10M.json"
	# The same at 64 partitions (1562 records per partition per batch, as
	# in partitions-64.json): the reader's stash is bounded per partition.
	log "10M records, 64 partitions"
	"$bin" -partitions 64 -messages 10000000 -max-rate 1562 -runs 1 -skip decode -json "$out/messages-10M-64p.json"
	# messages-10M.json with every reader in the broker's process (the
	# topology the raw readers had before they ran in child processes).
	log "10M records, in-process"
	"$bin" -partitions 4 -messages 10000000 -max-rate 25000 -runs 1 -skip decode -in-process -json "$out/messages-10M-inprocess.json"
fi
"$bin" -scenario chart -svg "$out/throughput.svg" "$out"/partitions-*.json "$out"/keys-*.json
log done
