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

# count_inputs prints how many saved inputs a corpus directory holds (0 if
# it does not exist).
count_inputs() {
  if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi
}
for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for attempt in 1 2; do
      before=$(count_inputs "$dir/testdata/fuzz/$target")
      echo "fuzz $pkg $target ($FUZZTIME, attempt $attempt)"
      if $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
        break
      fi
      after=$(count_inputs "$dir/testdata/fuzz/$target")
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
