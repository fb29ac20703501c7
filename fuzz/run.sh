#!/usr/bin/env bash
# Runs fuzz targets one after another, each for a bounded time, and fails on
# the first crash (panic, failed check, leak, timeout or out-of-memory).
#
#   fuzz/run.sh [seconds-per-target] [target ...]
#
# Defaults: 60 s, every target `cargo fuzz list` names. The checked-in seed
# corpus (fuzz/corpus/<target>) is read, never written: what the fuzzer
# finds goes to a temporary directory (kept with FUZZ_KEEP_CORPUS=1), so a
# run leaves the tree as it was. A crashing input lands in
# fuzz/artifacts/<target>/ (ignored by git); docs/fuzzing.md says what next.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: fuzz/run.sh [seconds-per-target] [target ...]" >&2
    exit 2
fi

# Debug assertions and overflow checks on: the decoders must not overflow
# either. The same flags for build and run, so nothing is rebuilt twice.
flags=(--debug-assertions)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build "${flags[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/twinio-fuzz.XXXXXX")"
if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
    echo "grown corpora kept in $work"
else
    trap 'rm -rf "$work"' EXIT
fi

for target in "${targets[@]}"; do
    printf '\n== fuzz %s for %s s ==\n' "$target" "$seconds"
    mkdir -p "$work/$target"
    seeds=()
    [ -d "corpus/$target" ] && seeds=("corpus/$target")
    # The op-sequence targets reach deep states (a trigger before a listen,
    # a crash after many writes) only with long inputs: allow them from the
    # start instead of growing the length limit slowly.
    case "$target" in
        sim_ops | real_io) extra=(-max_len=1024 -len_control=0) ;;
        *) extra=() ;;
    esac
    # One process (no -jobs/-fork): the machine is shared. A single input
    # running over 20 s counts as a hang.
    if ! cargo +nightly fuzz run "${flags[@]}" "$target" "$work/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=20 -print_final_stats=1 "${extra[@]}" \
        >"$work/$target.log" 2>&1; then
        tail -n 60 "$work/$target.log" >&2
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
        "$work/$target.log" || true
done
printf '\nall %d fuzz targets ran %s s each without a crash\n' "${#targets[@]}" "$seconds"
