#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each.
#
# A target that finds a failing input writes it to testdata/fuzz/<Target>/
# and fails the run: that is a bug, reported as is. A run that fails
# without writing an input is the fuzzing engine itself giving up (on a
# loaded 2-core machine, "fuzzing process hung or terminated unexpectedly"),
# so it is retried once before it counts.
set -euo pipefail
FUZZTIME="${FUZZTIME:-5s}"
GO="${GO:-go}"
status=0
for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for attempt in 1 2; do
      before=$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | wc -l)
      echo "fuzz $pkg $target ($FUZZTIME, attempt $attempt)"
      if $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
        break
      fi
      after=$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | wc -l)
      if [ "$after" != "$before" ] || [ "$attempt" = 2 ]; then
        echo "FAIL: $target in $pkg (new inputs in $dir/testdata/fuzz/$target: $((after - before)))" >&2
        status=1
        break
      fi
      echo "fuzzing $target stopped without a failing input; retrying once" >&2
    done
  done
done
exit $status
