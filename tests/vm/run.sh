#!/usr/bin/env bash
# run.sh COMMAND [ARG...]: runs COMMAND as root inside a qemu VM booting
# Debian's own kernel (scripts/vm-kernel.sh), whose WireGuard and VRF
# modules this machine's kernel lacks. The guest sees the host's whole
# filesystem read-only (9p) under a tmpfs overlay, so the build tree and
# every tool are where they are on the host; nothing it writes reaches the
# host. COMMAND's output is printed here and its exit status returned.
# The VM is the real kernel, not a fake: it runs under software emulation
# (TCG), since this machine's /dev/kvm does not run a guest.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tools.sh"
require_tools qemu-system-x86_64 busybox
VM=${NANAMI_VM_DIR:-/var/cache/nanami/vm}
if [[ ! -s $VM/release || ! -f $VM/vmlinuz ]]; then
  echo "FAIL: no VM kernel in $VM (run scripts/deps.sh); not skipping silently" >&2
  exit 1
fi
release=$(cat "$VM/release")
JOB=$(mktemp -d /tmp/nnvm.XXXXXX)
trap 'rm -rf "$JOB"' EXIT

# The initramfs: busybox, this script's init, and the modules that reach
# the host's root (virtio, 9p, overlay) with their dependencies.
mods=$VM/root/lib/modules/$release
mkdir -p "$JOB"/ird/{bin,proc,sys,dev} "$JOB/ird/lib/modules/$release"
cp "$(command -v busybox)" "$JOB/ird/bin/busybox"
cp "$HERE/init" "$JOB/ird/init"
chmod 755 "$JOB/ird/init"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  dep=$(grep -E "/$m\.ko:" "$mods/modules.dep") || { echo "FAIL: module $m not in $release" >&2; exit 1; }
  for f in ${dep/:/}; do
    mkdir -p "$JOB/ird/lib/modules/$release/$(dirname "$f")"
    cp "$mods/$f" "$JOB/ird/lib/modules/$release/$f"
  done
done
cp "$mods"/modules.{dep,alias,builtin} "$JOB/ird/lib/modules/$release/"
(cd "$JOB/ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$JOB/initrd.gz")
echo "$VM/root/lib/modules" >"$JOB/modules"

# The guest's PID 1 after switch_root: runs the command, keeps its status,
# powers off.
{
  echo '#!/bin/bash'
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root'
  for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    if [[ -n ${!v:-} ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
  done
  printf 'cd %q\n' "$PWD"
  printf 'rc=0; %s >%q 2>&1 || rc=$?\n' "$(printf '%q ' "$@")" "$JOB/log"
  printf 'echo "$rc" >%q\n' "$JOB/rc"
  echo 'sync; echo o >/proc/sysrq-trigger; sleep 10'
} >"$JOB/guest.sh"

timeout "${NANAMI_VM_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -nographic -no-reboot -nic none -kernel "$VM/vmlinuz" -initrd "$JOB/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 nnvm.job=$JOB" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$JOB,mount_tag=job,security_model=none" >"$JOB/console" 2>&1 || true
cat "$JOB/log" 2>/dev/null || true
if [[ ! -s $JOB/rc ]]; then
  echo "FAIL: the VM ended without the command's status; its console:" >&2
  tail -n 40 "$JOB/console" >&2
  exit 1
fi
exit "$(cat "$JOB/rc")"
