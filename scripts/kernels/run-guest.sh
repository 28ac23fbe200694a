# Boots a fetched guest kernel (scripts/kernels/fetch-guest.sh) in QEMU under TCG (software
# emulation: KVM guests hung here) and runs one shell command in it, in this repository (an
# overlay on tmpfs makes it writable; nothing reaches the host's files but the output
# directory). amd64 guests use this machine's own userland, read-only over virtio-9p; arm64
# guests the arm64 userland and repository layer of scripts/kernels/prepare-arm64.sh.
#   scripts/kernels/run-guest.sh <guest> <out-dir> <command…>
# The command's output goes to <out-dir>/console.log, its exit status to <out-dir>/rc; the
# kernel's own log to <out-dir>/serial.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
guest=${1:?usage: run-guest.sh <guest> <out-dir> <command…>}
out=$(mkdir -p "$2" && cd "$2" && pwd)
shift 2
dir=$repo/.cache/kernels/$guest
arch=${guest##*-}
[ -s "$dir/vmlinuz" ] || { echo "kernels: $guest is not fetched: run scripts/kernels/fetch-guest.sh ${guest%-*} $arch" >&2; exit 2; }
case $arch in
  amd64) qemu=(qemu-system-x86_64 -accel tcg -cpu max); console=ttyS0; root=/; shares=() ;;
  arm64)
    qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu max); console=ttyAMA0
    root=$repo/.cache/kernels/userland-trixie-arm64
    layer=$repo/.cache/kernels/arm64-layer
    [ -x "$root/usr/bin/node" ] && [ -s "$layer/build/Release/probeflow_bpf.node" ] || { echo "kernels: the arm64 userland is not prepared: run scripts/kernels/prepare-arm64.sh" >&2; exit 2; }
    # The repository and the arm64 layer over it (binding, esbuild, rollup) come on shares of their own.
    shares=(-virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
      -virtfs "local,path=$layer,mount_tag=layer,security_model=none,readonly=on,multidevs=remap") ;;
  *) echo "kernels: no QEMU setup for $arch guests" >&2; exit 2 ;;
esac
command -v "${qemu[0]}" >/dev/null || { echo "kernels: ${qemu[0]} is missing: apt-get install $([ "$arch" = arm64 ] && echo qemu-system-arm || echo qemu-system-x86)" >&2; exit 2; }
# busybox for depmod and cpio here: the guest's own where it runs on this machine, else an amd64 one.
hostbb=$dir/busybox
if [ "$arch" != amd64 ]; then
  [ -x "$repo/.cache/kernels/bookworm-amd64/busybox" ] || bash scripts/kernels/fetch-guest.sh bookworm amd64
  hostbb=$repo/.cache/kernels/bookworm-amd64/busybox
fi
release=$(cat "$dir/release")
modroot=$dir/root/lib/modules/$release

# The initramfs: busybox, the modules that reach the host's files (virtio-pci, 9p, overlay) with
# their dependencies from modules.dep, in load order, and an init that runs the command.
initrd=$dir/initramfs-$(sha256sum "$0" | cut -c1-12).cpio.gz
if [ ! -s "$initrd" ]; then
  # Debian's postinst would run depmod; the package alone has no modules.dep.
  [ -s "$modroot/modules.dep" ] || "$hostbb" depmod -b "$dir/root" "$release"
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev,host,out,rw,lib/modules}
  cp "$dir/busybox" "$stage/bin/busybox"
  loaded=()
  load() { # module name → its dependencies first, then itself (built-in ones have no file)
    local path deps
    path=$(grep -E "(^|/)$1\.ko(\.xz|\.zst)?:" "$modroot/modules.dep" | head -1) || return 0
    [ -n "$path" ] || return 0
    deps=${path#*:}
    path=${path%%:*}
    for d in $deps; do load "$(basename "${d%%.ko*}")"; done
    for l in "${loaded[@]}"; do [ "$l" = "$path" ] && return 0; done
    loaded+=("$path")
  }
  for m in virtio_pci 9pnet_virtio 9p overlay; do load "$m"; done
  : > "$stage/modules"
  for p in "${loaded[@]}"; do
    f=$(basename "$p")
    case $f in
      *.xz) xz -dc "$modroot/$p" > "$stage/lib/modules/${f%.xz}"; f=${f%.xz} ;;
      *.zst) zstd -qdc "$modroot/$p" > "$stage/lib/modules/${f%.zst}"; f=${f%.zst} ;;
      *) cp "$modroot/$p" "$stage/lib/modules/$f" ;;
    esac
    echo "$f" >> "$stage/modules"
  done
  cat > "$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /lib/modules/$m || echo "guest: insmod $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $opts,ro host /host && mount -t 9p -o $opts out /out || { echo "guest: 9p mount failed"; poweroff -f; }
mount -t tmpfs -o size=3g rw /rw
# Loopback: tests talk to the servers they start on 127.0.0.1 (the guest has no other network).
ip link set lo up
repo=$(cat /out/repo)
mkdir -p /rw/up /rw/work /rw/repo
# The overlay's lower layers are mounted aside first: the tmpfs mounts below would hide a
# repository under /tmp or /run.
if [ -e /out/arm64 ]; then
  # arm64: the repository on its own share, the arm64 binding and npm packages laid over it.
  mkdir -p /rw/layer
  mount -t 9p -o $opts,ro repo /rw/repo && mount -t 9p -o $opts,ro layer /rw/layer || { echo "guest: 9p mount of the repository failed"; poweroff -f; }
  lower=/rw/layer:/rw/repo
else
  mount -o bind /host$repo /rw/repo || { echo "guest: the repository $repo is not visible in the guest"; poweroff -f; }
  lower=/rw/repo
fi
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
mount -t tmpfs tmp /host/tmp; mount -t tmpfs run /host/run
mount -t bpf bpf /host/sys/fs/bpf; mount -t tracefs tracefs /host/sys/kernel/tracing
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
# Its mount point: made here on a tmpfs (/tmp, /run); elsewhere the guest's root must have it.
mkdir -p /host$repo 2>/dev/null
mount -t overlay overlay -o lowerdir=$lower,upperdir=/rw/up,workdir=/rw/work /host$repo || { echo "guest: cannot mount the repository at $repo (no such directory in the guest's root?)"; poweroff -f; }
mkdir -p /host/tmp/out && mount -o bind /out /host/tmp/out
chroot /host /bin/sh -c "cd $repo && exec /bin/sh /tmp/out/cmd.sh" > /out/console.log 2>&1
echo $? > /out/rc
sync
poweroff -f
INIT
  chmod +x "$stage/init"
  (cd "$stage" && find . | "$hostbb" cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
fi

rm -f "$out/rc" "$out/console.log" "$out/arm64"
echo "$repo" > "$out/repo"
[ "$arch" = arm64 ] && : > "$out/arm64"
printf 'export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=true\n%s\n' "$*" > "$out/cmd.sh"
timeout "${GUEST_TIMEOUT:-1800}" "${qemu[@]}" -m 4096 -smp 2 -nographic -no-reboot \
  -kernel "$dir/vmlinuz" -initrd "$initrd" -append "console=$console panic=-1 quiet" \
  -virtfs "local,path=$root,mount_tag=host,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" "${shares[@]}" \
  > "$out/serial.log" 2>&1 || true
if [ ! -s "$out/rc" ]; then
  echo "kernels: $guest ($release) did not run the command to its end; its console: $out/serial.log" >&2
  tail -5 "$out/serial.log" >&2
  exit 3
fi
exit "$(cat "$out/rc")"
