#!/bin/sh
# Installs the Debian packages the test suite and the kernel lab use.
# Idempotent: does nothing when they are present. Needs root to install;
# without root it only says what is missing.
#
# The kernel lab needs: qemu-system-x86 (the VM), busybox-static (the
# guest's userland), kmod (modprobe --show-depends and depmod -b on the
# downloaded kernel), xz-utils (vmlinux out of vmlinuz), apt and dpkg (to
# download and unpack Debian's kernel package, which is not installed), and
# the host programs it copies into the guest: iproute2, ipvsadm, keepalived,
# nftables, bash, dash. cpio reads archives back in the lab's unit tests.
set -eu
pkgs="qemu-system-x86 busybox-static cpio kmod xz-utils iproute2 ipvsadm keepalived nftables tcpdump tshark arping"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get update -q >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "deps: apt-get update failed" >&2
	exit 1
fi
# shellcheck disable=SC2086 # one word per package
if ! apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "deps: apt-get install$missing failed" >&2
	exit 1
fi
