#!/bin/sh
# Keeps the modules named in modules.txt and those they depend on, writes modules.dep for them,
# and puts the kernel image at /kernel. Runs on the build host with ROOT (the tree) and PKG set.
set -eu
command -v depmod >/dev/null || { echo "depmod not found: install Debian's kmod package on the build host" >&2; exit 1; }
cd "$ROOT/lib/modules"
set -- *
[ "$#" -eq 1 ] && [ -d "$1" ] || { echo "expected one kernel version under /lib/modules, found: $*" >&2; exit 1; }
version=$1
dir="$ROOT/lib/modules/$version"
depmod -b "$ROOT" "$version"

# Module names as written in modules.txt (comments and blank lines dropped; '-' and '_' are the same).
sed 's/#.*//' "$PKG/modules.txt" | tr -s ' \t' '\n\n' | sed '/^$/d' > "$PKG/wanted"

awk -v wanted="$PKG/wanted" -v builtin="$dir/modules.builtin" '
  function norm(s) { gsub(/-/, "_", s); return s }
  function base(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); return norm(n) }
  BEGIN {
    while ((getline line < wanted) > 0) want[norm(line)] = 1
    while ((getline line < builtin) > 0) inkernel[base(line)] = 1
  }
  {
    path = $1; sub(/:$/, "", path); name = base(path); file[name] = path; deps[name] = ""
    for (i = 2; i <= NF; i++) deps[name] = deps[name] " " base($i)
  }
  END {
    do {
      changed = 0
      for (n in want) {
        count = split(deps[n], d, " ")
        for (k = 1; k <= count; k++) if (!(d[k] in want)) { want[d[k]] = 1; changed = 1 }
      }
    } while (changed)
    for (n in want) {
      if (n in file) print file[n]
      else if (!(n in inkernel)) { print "modules.txt names " n ", which this kernel does not have" > "/dev/stderr"; missing = 1 }
    }
    exit missing
  }' "$dir/modules.dep" > "$PKG/keep.unsorted"
sort "$PKG/keep.unsorted" > "$PKG/keep"

find "$dir/kernel" -name '*.ko*' | sed "s|^$dir/||" | sort | comm -23 - "$PKG/keep" > "$PKG/drop"
(cd "$dir" && xargs rm -f < "$PKG/drop")
find "$dir/kernel" -type d -empty -delete
depmod -b "$ROOT" "$version"
echo "kept $(wc -l < "$PKG/keep") of $(( $(wc -l < "$PKG/keep") + $(wc -l < "$PKG/drop") )) modules"

mv "$ROOT/boot/vmlinuz-$version" "$ROOT/kernel"
