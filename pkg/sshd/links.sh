#!/bin/sh
# Links every busybox applet to /bin/busybox where nothing else is installed at its path.
set -eu
for applet in $("$ROOT/bin/busybox" --list-full); do
  target="$ROOT/$applet"
  if [ -e "$target" ] || [ -L "$target" ]; then continue; fi
  mkdir -p "$(dirname "$target")"
  ln -s /bin/busybox "$target"
done
