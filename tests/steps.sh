# Shared by the shell test runners (tests/c/run.sh, tests/install/run.sh):
# `step` runs and counts checks, `finish_steps` prints the tally and exits.
# Source it after setting WORK (a scratch directory).

passed=0
failed=0
failures=()

# step NAME COMMAND...: runs one check, its output kept in a log shown on
# failure; its "note: ..." lines are shown either way.
step() {
  local name=$1
  shift
  local log=$WORK/step.log
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
    grep '^note: ' "$log" | sed 's/^/     /'
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL $name"
    tail -n 40 "$log" | sed 's/^/     | /'
  fi
  return 0
}

# finish_steps: "N passed, M failed", and exit 1 if any failed.
finish_steps() {
  echo "$passed passed, $failed failed"
  if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
    exit 1
  fi
}
