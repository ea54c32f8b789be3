#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_SECONDS (default 30) over a scratch
# copy of its seed corpus in the tree; new inputs and crash artifacts go
# to a temporary directory, never into the source tree. Fails on any
# crash, leak, timeout or broken invariant (FUZZ_KEEP=DIR keeps them).
# Ends with "fuzz: N harnesses, N execs, N crashes".
#   run-fuzz.sh BUILDDIR CORPUSDIR NAME...
set -uo pipefail
bin=$1 seeds=$2; shift 2
seconds=${FUZZ_SECONDS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

harnesses=0 execs=0 crashes=0
for name in "$@"; do
        harnesses=$((harnesses + 1))
        mkdir -p "$tmp/$name/corpus" "$tmp/$name/artifacts"
        cp -r "$seeds/$name/." "$tmp/$name/corpus/"
        log=$tmp/$name/log
        nice "$bin/fuzz-$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$tmp/$name/artifacts/" "$tmp/$name/corpus" >"$log" 2>&1
        rc=$?
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${n:-0}))
        found=$(find "$tmp/$name/artifacts" -type f | wc -l)
        if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
                crashes=$((crashes + (found > 0 ? found : 1)))
                echo "fuzz-$name: FAILED (exit $rc) after ${n:-0} execs; its log ends:"
                tail -n 40 "$log" | sed 's/^/  /'
                for f in "$tmp/$name/artifacts"/*; do
                        [ -f "$f" ] || continue
                        echo "  input $(basename "$f"): $(head -c 200 "$f" | od -An -c | head -3 | tr -s ' ')"
                done
                if [ -n "${FUZZ_KEEP:-}" ]; then
                        mkdir -p "$FUZZ_KEEP/$name" && cp "$tmp/$name/artifacts"/* "$FUZZ_KEEP/$name/" 2>/dev/null
                        echo "  kept in $FUZZ_KEEP/$name"
                fi
        else
                echo "fuzz-$name: ${n:-0} execs in ${seconds}s, corpus $(ls "$seeds/$name" | wc -l) -> $(ls "$tmp/$name/corpus" | wc -l) inputs"
        fi
done
echo "fuzz: $harnesses harnesses, $execs execs, $crashes crashes"
[ "$crashes" -eq 0 ]
