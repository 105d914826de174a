#!/usr/bin/env bash
# The README's "run" command: installs what is missing, builds, and compiles
# the example intent into its envelopes (printed as formatted JSON).
# (Once nanamid exists, this starts the server instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build nanamictl >/dev/null
./build/nanamictl check -f examples/acme.json >&2
./build/nanamictl compile -f examples/acme.json | jq .
