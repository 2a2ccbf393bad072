#!/bin/sh
# Installs the Debian packages the test suite and the lab use. Idempotent:
# does nothing when they are present. Needs root to install.
set -eu
pkgs="qemu-system-x86 busybox-static cpio kmod iproute2 ipvsadm keepalived tcpdump tshark arping nftables xz-utils"
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
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
