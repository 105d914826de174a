#!/usr/bin/env bash
# The README's "run" command: installs what is missing, builds, creates the
# database on first run (printing the administrator's API token once), and
# serves the API on loopback. NANAMI_DATA (default ./nanami-data) holds the
# SQLite file; NANAMI_LISTEN (default 127.0.0.1:8420) the address.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# every binary the README's walkthroughs use
ninja -C build nanamid nanamictl gateway-daemon gateway-manager >/dev/null
DATA=${NANAMI_DATA:-nanami-data}
LISTEN=${NANAMI_LISTEN:-127.0.0.1:8420}
mkdir -p "$DATA"
chmod 700 "$DATA"
if [[ ! -s "$DATA/nanami.db" ]]; then
  token=$(./build/nanamid init --db "$DATA/nanami.db" 2>/dev/null)
  echo "nanamid: new install in $DATA/nanami.db"
  echo "nanamid: administrator API token (shown once, keep it): $token"
  echo "nanamid: try: curl -H 'Authorization: Bearer $token' http://$LISTEN/api/v1/me"
fi
exec ./build/nanamid serve --db "$DATA/nanami.db" --listen "$LISTEN"
