#!/usr/bin/env bash
# Fuzzing (not a test, not run in CI): builds every target and runs each for a while, one
# after another in a single process, then prints runs, coverage and whether it crashed.
#   fuzz/run.sh [seconds per target, default 600] [target...]
# Needs a nightly toolchain and cargo-fuzz (`cargo +nightly fuzz`). The corpus grows under
# fuzz/corpus/TARGET (kept between runs), seeded from fuzz/seeds/TARGET and the repo's own
# examples; crashes land in fuzz/artifacts/TARGET; each run's log in fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(report_body config_load detect_csv scenario_toml agent_results postmortem_markdown)
# -a: debug assertions and overflow checks, so an overflow is a finding, not a wrap.
# -s none: the code under test is safe Rust; no sanitizer doubles the executions per second.
flags=(-a -s none)
# The same dependency versions as the workspace (this lockfile is not kept in git).
[[ -f Cargo.lock ]] || cp ../Cargo.lock Cargo.lock
cargo +nightly fuzz build "${flags[@]}"
mkdir -p logs

seed() { # TARGET: copy the repo's fixtures for it into its corpus
  local dir=corpus/$1
  mkdir -p "$dir"
  [[ -d seeds/$1 ]] && cp -n seeds/"$1"/* "$dir"/ 2>/dev/null
  case $1 in
    config_load) cp -n ../downbeat.example.toml "$dir"/example.toml ;;
    scenario_toml) for f in ../scenarios/*.toml; do cp -n "$f" "$dir"/; done ;;
    postmortem_markdown) for f in ../README.md ../ARCHITECTURE.md ../CONTRIBUTING.md; do cp -n "$f" "$dir"/; done ;;
  esac
  return 0
}

summary=()
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  echo "== $t: ${secs}s" >&2
  set +e
  cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"logs/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  [[ -n $runs ]] || runs=$(grep -oE '^#[0-9]+' "logs/$t.log" | tail -1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "logs/$t.log" | tail -1)
  corp=$(ls "corpus/$t" | wc -l)
  after=$(ls "artifacts/$t" | wc -l)
  if ((rc == 0)); then found="no crash"; else
    found="CRASH (exit $rc): $(grep -m1 -E 'panicked at|ERROR: libFuzzer' "logs/$t.log" | cut -c1-160); new artifacts: $((after - before))"
  fi
  line="$t: ${secs}s, runs ${runs:-?}, ${cov:-cov ?}, corpus $corp, $found"
  echo "$line"
  summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
