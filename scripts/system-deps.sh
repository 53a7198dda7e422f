#!/bin/sh
# Installs the Debian packages oskit's builds, boots and tests use, when they are missing:
# QEMU and OVMF (oskit run qemu), kmod (the kernel package's depmod); for the tests cpio and
# genisoimage, a real registry (docker-registry, with htpasswd from apache2-utils and openssl for
# its basic and token authentication), and the reference tools the disk formats are checked with
# (qemu-img from qemu-utils, fsck.vfat from dosfstools, sgdisk from gdisk, mtools, xorriso for
# the ISOs).
set -eu
need=""
command -v qemu-system-x86_64 > /dev/null || need="$need qemu-system-x86"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need="$need ovmf"
command -v depmod > /dev/null || [ -x /sbin/depmod ] || need="$need kmod"
command -v cpio > /dev/null || need="$need cpio"
command -v isoinfo > /dev/null || need="$need genisoimage"
command -v docker-registry > /dev/null || need="$need docker-registry"
command -v htpasswd > /dev/null || need="$need apache2-utils"
command -v openssl > /dev/null || need="$need openssl"
command -v qemu-img > /dev/null || need="$need qemu-utils"
command -v fsck.vfat > /dev/null || [ -x /sbin/fsck.vfat ] || need="$need dosfstools"
command -v sgdisk > /dev/null || [ -x /sbin/sgdisk ] || need="$need gdisk"
command -v mcopy > /dev/null || need="$need mtools"
command -v xorriso > /dev/null || need="$need xorriso"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "installing Debian packages:$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need > /dev/null
else
  echo "oskit needs these Debian packages:$need — install them with: sudo apt-get install$need" >&2
  exit 1
fi
