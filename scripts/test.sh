#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds and runs every test
# three ways -- a normal build with warnings as errors (NANAMI_WERROR), the libFuzzer harness for a bounded
# number of runs, and the suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer (leaks included). Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

JOBS=$(nproc)
FUZZ_RUNS=${FUZZ_RUNS:-200000}
FUZZ_API_RUNS=${FUZZ_API_RUNS:-200000}
FUZZ_AGENT_RUNS=${FUZZ_AGENT_RUNS:-200000}
FUZZ_HTTP_RUNS=${FUZZ_HTTP_RUNS:-6000}

echo "== build (RelWithDebInfo, warnings as errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNANAMI_WERROR=ON >/dev/null
ninja -C build
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== fuzz: intent parser and compiler, $FUZZ_RUNS runs"
CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNANAMI_FUZZ=ON -DNANAMI_WERROR=ON >/dev/null
ninja -C build-fuzz fuzz_intent fuzz_api fuzz_agent fuzz_http
corpus=$(mktemp -d) corpus_api=$(mktemp -d) corpus_agent=$(mktemp -d) corpus_http=$(mktemp -d)
trap 'rm -rf "$corpus" "$corpus_api" "$corpus_agent" "$corpus_http"' EXIT
./build-fuzz/fuzz_intent -runs="$FUZZ_RUNS" -max_total_time=300 -max_len=8192 \
  -dict=tests/fuzz/intent.dict -artifact_prefix=build-fuzz/ "$corpus" tests/fuzz/corpus 2>&1 | tail -3
echo "== fuzz: API request handling, $FUZZ_API_RUNS runs"
./build-fuzz/fuzz_api -runs="$FUZZ_API_RUNS" -max_total_time=300 -max_len=4096 \
  -dict=tests/fuzz/intent.dict -artifact_prefix=build-fuzz/ "$corpus_api" tests/fuzz/corpus_api 2>&1 | tail -3
echo "== fuzz: raw HTTP through nanamid's transport, router and API, $FUZZ_HTTP_RUNS runs"
./build-fuzz/fuzz_http -runs="$FUZZ_HTTP_RUNS" -max_total_time=90 -max_len=4096 \
  -dict=tests/fuzz/http.dict -artifact_prefix=build-fuzz/ "$corpus_http" tests/fuzz/corpus_http 2>&1 | tail -3
echo "== fuzz: gateway-daemon parsers (UAPI answers, kernel netlink dumps, envelopes with OVN plans, ovn-nbctl answers, manager frames, endpoints), $FUZZ_AGENT_RUNS runs"
./build-fuzz/fuzz_agent -runs="$FUZZ_AGENT_RUNS" -max_total_time=300 -max_len=16384 \
  -dict=tests/fuzz/agent.dict -artifact_prefix=build-fuzz/ "$corpus_agent" tests/fuzz/corpus_agent 2>&1 | tail -3

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNANAMI_SANITIZE=ON -DNANAMI_WERROR=ON >/dev/null
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$JOBS")
