#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 10) and fails on any finding. Prints the
# number of executions per target. Needs cargo-fuzz and the nightly toolchain:
#
#   cargo install cargo-fuzz --locked
#   bash scripts/fuzz-smoke.sh 600      # the 10-minute runs TESTING.md reports
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-10}
failed=0
for target in $(cargo +nightly fuzz list); do
    log=$(mktemp)
    if cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        printf '%-12s ok: %s executions in %ss\n' "$target" "${runs:-?}" "$seconds"
    else
        printf '%-12s FAILED\n' "$target"
        tail -n 60 "$log"
        failed=1
    fi
    rm -f "$log"
done
exit "$failed"
