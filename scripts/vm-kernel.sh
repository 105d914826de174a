#!/usr/bin/env bash
# The kernel the VM tests boot (tests/vm/run.sh): Debian's own generic
# linux-image, which has the WireGuard and VRF modules this machine's
# kernel lacks. It is unpacked into a cache directory, not installed:
# nothing on the host changes. Idempotent; called by scripts/deps.sh.
set -euo pipefail
DIR=${NANAMI_VM_DIR:-/var/cache/nanami/vm}
[[ -s $DIR/release && -f $DIR/vmlinuz ]] && exit 0
pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
name=$(pkg)
if [[ -z $name ]]; then apt-get update -qq; name=$(pkg); fi
[[ -n $name ]] || { echo "vm-kernel: apt knows no linux-image-amd64" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt-get download drops privileges to _apt when it can
(cd "$tmp" && apt-get download -qq "$name" 2>&1 | grep -v unsandboxed || true)
deb=$(ls "$tmp"/*.deb 2>/dev/null | head -1)
[[ -n $deb ]] || { echo "vm-kernel: apt-get download $name failed" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR"
dpkg-deb -x "$deb" "$DIR/root"
release=$(ls "$DIR/root/lib/modules")
depmod -b "$DIR/root" "$release"
cp "$DIR/root/boot/vmlinuz-$release" "$DIR/vmlinuz"
echo "$release" >"$DIR/release"
echo "vm-kernel: $name ($release) in $DIR" >&2
