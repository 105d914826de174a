#!/usr/bin/env bash
# Installs every Debian package Nanami needs to build, test and run.
# Idempotent: when everything is present it only runs dpkg-query, and
# scripts/vm-kernel.sh finds its kernel already unpacked.
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
  # the VM tests (tests/vm): a Debian kernel with the WireGuard and VRF
  # modules, booted under qemu with the host's root shared over 9p
  qemu-system-x86 busybox-static kmod
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ((${#missing[@]} > 0)); then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
$SUDO bash "$(dirname "$0")/vm-kernel.sh"
