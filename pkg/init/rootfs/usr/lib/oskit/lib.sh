# Shared by rcS and rc.shutdown: logging, drivers, and running containers with runc in the
# layout of docs/runtime.md (/containers/{onboot,onshutdown}/NNN-name, /containers/services/name).

# A message on the console, and in /var/log/init.log after the seconds since boot.
log() {
  echo "oskit: $*" > /dev/console
  read -r up _ < /proc/uptime
  echo "[$up] $*" >> /var/log/init.log 2>/dev/null
}

# Loads the drivers of the devices present: every device's modalias in one modprobe call, again
# only while new devices appear (virtio devices appear once virtio_pci is in, a CD-ROM once
# virtio_scsi is). modprobe returns once a driver has probed its devices (the kernel waits for the
# asynchronous SCSI scan of a module before modprobe ends), so a pass sees what the last one added.
coldplug() {
  seen=""
  while :; do
    aliases=$(cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u)
    [ "$aliases" = "$seen" ] && return 0
    seen=$aliases
    set -f
    # shellcheck disable=SC2086 # one argument per modalias
    modprobe -q -a $aliases 2>/dev/null
    set +f
  done
}

# The ACPI power button (what clouds and QEMU's system_powerdown press) powers the system off.
watch_power_button() {
  for device in /sys/class/input/event*; do
    if grep -qi "power button" "$device/device/name" 2>/dev/null; then
      ( head -c 1 "/dev/input/${device##*/}" > /dev/null && log "power button pressed" && poweroff ) &
    fi
  done
}

# Volumes (/containers/volumes/NAME): a read-only one (no tmp/) is its lower/ bound read-only on
# merged/; a writable one an overlay of lower/ and a tmpfs (its writes last until power-off).
mount_volumes() {
  for volume in /containers/volumes/*; do
    [ -d "$volume/lower" ] || continue
    if [ -d "$volume/tmp" ]; then
      mount -t tmpfs -o mode=0755 tmpfs "$volume/tmp" &&
        mkdir -p "$volume/tmp/upper" "$volume/tmp/work" &&
        mount -t overlay -o "lowerdir=$volume/lower,upperdir=$volume/tmp/upper,workdir=$volume/tmp/work" overlay "$volume/merged"
    else
      mount --bind "$volume/lower" "$volume/merged" && mount -o remount,bind,ro "$volume/merged"
    fi || log "volume ${volume##*/}: cannot mount"
  done
}

# 000-name → name
container_name() {
  name=${1##*/}
  case "$name" in [0-9][0-9][0-9]-*) name=${name#???-} ;; esac
  echo "$name"
}

# Seconds since boot (whole): deadlines do not depend on how fast runc answers.
uptime_seconds() {
  read -r up _ < /proc/uptime
  echo "${up%.*}"
}

runc_field() { # runc_field NAME FIELD: a field of `runc state NAME`
  runc state "$1" 2>/dev/null | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}

# A writable container's root is an overlay of its image (lower) and a tmpfs; a read-only one
# is its rootfs as it is (runc binds it).
prepare_rootfs() {
  bundle=$1
  [ -d "$bundle/lower" ] || return 0
  mount -t tmpfs -o mode=0755 tmpfs "$bundle/tmp" &&
    mkdir -p "$bundle/tmp/upper" "$bundle/tmp/work" &&
    mount -t overlay -o "lowerdir=$bundle/lower,upperdir=$bundle/tmp/upper,workdir=$bundle/tmp/work" overlay "$bundle/rootfs"
}

TAB=$(printf '\t')

# Actions of runtime.steps (one per line, fields separated by tabs, "-" for empty) run before
# the container is created: directories, mounts in the root namespace, cgroups.
runtime_before() {
  bundle=$1
  [ -f "$bundle/runtime.steps" ] || return 0
  while IFS="$TAB" read -r action a b c d; do
    case "$action" in
      mkdir) mkdir -p "$a" ;;
      mount)
        mkdir -p "$c"
        if [ "$d" = "-" ]; then mount -t "$a" "$b" "$c"; else mount -t "$a" -o "$d" "$b" "$c"; fi ||
          log "$(container_name "$bundle"): cannot mount $b on $c"
        ;;
      cgroup) mkdir -p "/sys/fs/cgroup/$a" ;;
    esac
  done < "$bundle/runtime.steps"
}

# Actions that need the created container's process: interfaces and namespace binds.
runtime_after() {
  bundle=$1
  pid=$2
  [ -f "$bundle/runtime.steps" ] || return 0
  while IFS="$TAB" read -r action a b c d; do
    case "$action" in
      interface) runtime_interface "$pid" "$a" "$b" "$c" "$d" ;;
      bindns)
        mkdir -p "$(dirname "$b")" && touch "$b" && mount --bind "/proc/$pid/ns/$a" "$b" ||
          log "cannot bind the $a namespace of $(container_name "$bundle") to $b"
        ;;
    esac
  done < "$bundle/runtime.steps"
}

runtime_interface() { # PID NAME ADD PEER CREATEINROOT
  pid=$1 name=$2 add=$3 peer=$4 inroot=$5
  if [ "$add" = "-" ] && [ "$peer" = "-" ]; then
    ip link set "$name" netns "$pid" || log "cannot move $name into the namespace of $pid"
    return
  fi
  [ "$add" = "-" ] && add=veth
  if [ "$peer" != "-" ] || [ "$inroot" = 1 ]; then
    if [ "$peer" != "-" ]; then ip link add "$name" type "$add" peer name "$peer"; else ip link add "$name" type "$add"; fi &&
      ip link set "$name" netns "$pid" || log "cannot create $name ($add)"
  else
    nsenter -t "$pid" -n ip link add "$name" type "$add" || log "cannot create $name ($add)"
  fi
}

has_after_actions() {
  [ -f "$1/runtime.steps" ] && grep -q "^\(interface\|bindns\)$TAB" "$1/runtime.steps"
}

# Opens the output of container NAME: a fifo (path in $fifo) that a tee copies to
# /var/log/NAME.log and the console for as long as a process holds it open. runc returns once the
# container is created or started, while the container goes on writing to the fifo.
open_output() {
  fifo=/run/oskit/$1.out
  rm -f "$fifo" && mkfifo "$fifo" || return 1
  tee -a "/var/log/$1.log" < "$fifo" > /dev/console &
}

# Creates a container (runc create) with its output in /var/log/NAME.log and on the console.
create_container() {
  bundle=$1
  name=$2
  open_output "$name" || { log "$name: cannot open its output"; return 1; }
  timeout 30 runc create --bundle "$bundle" "$name" < /dev/null > "$fifo" 2>&1
  status=$?
  rm -f "$fifo"
  case "$status" in
    0) return 0 ;;
    143) log "$name: runc create did not finish (see /var/log/$name.log)" ;;
    *) log "$name: runc create failed (see /var/log/$name.log)" ;;
  esac
  remove_container "$name"
  return 1
}

# Removes what runc left of container NAME (runc run removes its own container when it ends).
remove_container() {
  [ -d "/run/runc/$1" ] && runc delete --force "$1" > /dev/null 2>&1
  return 0
}

# Onboot and onshutdown containers: run to completion, in order.
run_to_completion() {
  bundle=$1
  name=$(container_name "$bundle")
  prepare_rootfs "$bundle" || { log "$name: cannot prepare its root filesystem"; return; }
  runtime_before "$bundle"
  if has_after_actions "$bundle"; then
    create_container "$bundle" "$name" || return
    pid=$(runc_field "$name" pid)
    runtime_after "$bundle" "$pid"
    runc start "$name"
    # Its process is not our child (runc create leaves it to PID 1): wait until it is gone.
    while [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
    log "$name: finished (exit status unknown: started with runc start for its interfaces or namespace binds); continuing"
  else
    { runc run --bundle "$bundle" "$name" < /dev/null; echo "$?" > "/run/oskit/$name.status"; } 2>&1 |
      tee -a "/var/log/$name.log" > /dev/console
    status=$(cat "/run/oskit/$name.status" 2>/dev/null)
    if [ "$status" = 0 ]; then log "$name: done"; else log "$name: failed (exit ${status:-unknown}); continuing"; fi
  fi
  remove_container "$name"
}

# A service: started in the background (runc run --detach, or runc create and runc start when it
# has after-create actions), its output in /var/log/NAME.log and on the console.
start_service() {
  bundle=$1
  name=$(container_name "$bundle")
  prepare_rootfs "$bundle" || { log "$name: cannot prepare its root filesystem"; return; }
  runtime_before "$bundle"
  if has_after_actions "$bundle"; then
    create_container "$bundle" "$name" || return
    runtime_after "$bundle" "$(runc_field "$name" pid)"
    runc start "$name" && log "$name: started"
    return
  fi
  open_output "$name" || { log "$name: cannot open its output"; return; }
  timeout 30 runc run --detach --bundle "$bundle" "$name" < /dev/null > "$fifo" 2>&1
  status=$?
  rm -f "$fifo"
  case "$status" in
    0) log "$name: started" ;;
    143) log "$name: runc run did not finish (see /var/log/$name.log)" && remove_container "$name" ;;
    *) log "$name: runc run failed (exit $status, see /var/log/$name.log)" && remove_container "$name" ;;
  esac
}

# Starts every service at once; returns when each has started (or failed to).
start_services() {
  pids=""
  for bundle in /containers/services/*; do
    [ -d "$bundle" ] || continue
    start_service "$bundle" &
    pids="$pids $!"
  done
  # shellcheck disable=SC2086 # one argument per pid
  [ -z "$pids" ] || wait $pids
}

# Stops every service: TERM, then KILL after $1 seconds.
stop_services() {
  names=""
  for bundle in /containers/services/*; do [ -d "$bundle" ] && names="$names $(container_name "$bundle")"; done
  for name in $names; do runc kill "$name" TERM 2> /dev/null; done
  deadline=$(($(uptime_seconds) + $1))
  while [ "$(uptime_seconds)" -le "$deadline" ]; do
    runc list 2> /dev/null | grep -q " running " || break
    sleep 0.2
  done
  for name in $names; do
    [ "$(runc_field "$name" status)" = running ] && log "$name: still running after TERM; killing it"
    runc kill "$name" KILL 2> /dev/null
    runc delete --force "$name" > /dev/null 2>&1
  done
}
