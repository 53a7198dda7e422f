#!/bin/sh
# Makes GRUB's BIOS images from grub-pc-bin's modules with grub-mkimage. grub-mkimage comes from
# grub-common in this tree (the same GRUB version as the modules, recorded in the image's label)
# and runs with libdevmapper and libudev from their packages; its other libraries (libc, liblzma,
# libselinux, libpcre2) are those of dpkg and tar, which every build host has.
set -eu
[ "$ARCH" = amd64 ] || { echo "GRUB's BIOS images are built for amd64 only, not $ARCH" >&2; exit 1; }
modules="$ROOT/usr/lib/grub/i386-pc"
out="$ROOT/boot/grub/i386-pc"
mkimage() {
  LD_LIBRARY_PATH="$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu" \
    "$ROOT/usr/bin/grub-mkimage" --directory "$modules" --config "$PKG/early.cfg" --prefix /boot/grub "$@"
}
mkdir -p "$out"
cp "$modules/boot.img" "$out/boot.img"
# The disk's GRUB: BIOS disks, MBR and GPT partitions, FAT, the search and configfile of
# early.cfg, the Linux loader (which brings normal, the script engine).
mkimage --format i386-pc --output "$out/core.img" \
  biosdisk part_msdos part_gpt fat search_fs_file configfile linux
# The CD's GRUB: the same on ISO 9660.
mkimage --format i386-pc-eltorito --output "$out/eltorito.img" \
  biosdisk iso9660 search_fs_file configfile linux
