#!/usr/bin/env bash
# The test job (CI runs exactly this): install packages, build with warnings
# as errors, run the whole test suite, then build with ASan + UBSan (with the
# fiber-switch annotations) and run the suite again under them (all but the
# real-etcd conformance checks, the 200-seed chaos sweep, the #16596
# search over thousands of seeds and the browser check of the dashboard,
# which only repeat what the release run covers, slowly).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DETCD_DST_WERROR=ON -DETCD_DST_BUILD_TESTS=ON
ctest --test-dir build --no-tests=error --output-on-failure --parallel "$jobs" --label-exclude slow

bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DETCD_DST_WERROR=ON \
  -DETCD_DST_SANITIZE=ON -DETCD_DST_BUILD_BENCH=OFF -DETCD_DST_BUILD_TESTS=ON
ASAN_OPTIONS=detect_leaks=1 \
  ctest --test-dir build-asan --no-tests=error --output-on-failure --parallel "$jobs" --label-exclude "real-etcd|chaos|search|browser"
# Determinism across builds: the same seeds, Release against ASan+UBSan.
bash scripts/cross_build_check.sh build/etcd-dst build-asan/etcd-dst
echo "run-tests.sh: all tests passed"
