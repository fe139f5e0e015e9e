#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 60 s, all targets; 0 builds the targets and replays the seeds and regression inputs
# only, deterministically, as CI does). Exits non-zero on the first crash, leak, timeout or OOM and
# says where the input is. Needs the nightly toolchain; installs cargo-fuzz if it is missing.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(chain template verifier notification keys v2_xml)
fi
case "$seconds" in
    '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== install cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build

for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target" "regressions/$target"
    status=0
    if [ "$seconds" -eq 0 ]; then
        echo "== $target: replay seeds/$target and regressions/$target"
        cargo +nightly fuzz run "$target" "seeds/$target" "regressions/$target" -- \
            -runs=0 -timeout=10 -rss_limit_mb=2048 || status=$?
        if [ "$status" -ne 0 ]; then
            echo "!! $target failed on a committed input (exit $status)" >&2
            exit 1
        fi
        continue
    fi
    echo "== $target: ${seconds}s (corpus $corpus, seeds seeds/$target)"
    # One job, one worker: the machine is shared. 10 s per input is a hang; 2 GiB is a leak.
    cargo +nightly fuzz run "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -jobs=1 -workers=1 \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 || status=$?
    # With -jobs, libFuzzer writes the run's output to fuzz-0.log.
    if [ -f fuzz-0.log ]; then
        mv fuzz-0.log "artifacts/$target/last-run.log"
        tail -n 25 "artifacts/$target/last-run.log"
    fi
    if [ "$status" -ne 0 ]; then
        echo "!! $target failed (exit $status). Reproducing input(s):" >&2
        ls -1t "artifacts/$target"/* 2>/dev/null | grep -v last-run.log | head -5 >&2 || true
        echo "   reproduce: cargo +nightly fuzz run $target <input>" >&2
        echo "   minimize:  cargo +nightly fuzz tmin $target <input>" >&2
        echo "   then keep it: cp <input> fuzz/regressions/$target/ (runs in cargo test)" >&2
        exit 1
    fi
done
if [ "$seconds" -eq 0 ]; then
    echo "== every committed input replayed without a crash"
else
    echo "== all targets ran ${seconds}s without a crash"
fi
