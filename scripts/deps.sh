#!/usr/bin/env bash
# Installs every Debian package Nanami needs to build, test and run.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libjansson-dev libsodium-dev libcmocka-dev libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libnftables-dev libmnl-dev
  # outside judges and the data plane used by the tests
  wireguard-go wireguard-tools nftables iproute2 iputils-ping netcat-openbsd jq
  frr frr-pythontools ovn-central ovn-common openvswitch-common
  # the service tests and benchmarks: HTTP client, database shell, load generator
  curl sqlite3 wrk openssl systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
