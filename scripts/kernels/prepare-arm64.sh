#!/usr/bin/env bash
# What an arm64 guest needs besides its kernel, made on this (x86) machine without emulation:
#  - an arm64 userland (Debian trixie: node 20, bpftool, the tools the tests call), unpacked by
#    `mmdebstrap --variant=extract` (no maintainer scripts run, so nothing arm64 executes here;
#    that variant unpacks only what is named, so the shell and coreutils are named too);
#  - a layer the guest lays over this repository: the libbpf binding cross-compiled for arm64
#    (aarch64-linux-gnu-g++ against the userland's libbpf) and the arm64 builds of the two
#    native npm packages the test runner needs (esbuild for tsx, rollup for vitest);
#  - the test workloads cross-built for arm64 (Go with GOARCH=arm64, C and cgo with
#    aarch64-linux-gnu-gcc), where the tests look for them: the guest has no compilers.
# Cached; `make test-kernels` runs it. Needs mmdebstrap and gcc/g++-aarch64-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
suite=trixie
user=$repo/.cache/kernels/userland-$suite-arm64
layer=$repo/.cache/kernels/arm64-layer
for tool in mmdebstrap aarch64-linux-gnu-gcc aarch64-linux-gnu-g++; do
  command -v "$tool" >/dev/null || { echo "kernels: $tool is missing: apt-get install mmdebstrap gcc-aarch64-linux-gnu g++-aarch64-linux-gnu" >&2; exit 2; }
done

if [ ! -x "$user/usr/bin/node" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "kernels: unpacking a $suite arm64 userland from $mirror" >&2
  rm -rf "$user.tmp"
  mmdebstrap --quiet --variant=extract --architectures=arm64 --format=directory \
    --include=dash,bash,coreutils,grep,sed,findutils,gzip,tar,mount,util-linux,procps,iproute2,openssl,nodejs,bpftool,libbpf-dev,libelf-dev,zlib1g-dev \
    "$suite" "$user.tmp" "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
  # The merged-/usr links and mount points base-files' scripts would have made.
  for d in bin sbin lib; do ln -sfn "usr/$d" "$user.tmp/$d"; done
  [ -e "$user.tmp/usr/bin/sh" ] || ln -s dash "$user.tmp/usr/bin/sh" # dash.postinst makes it
  mkdir -p "$user.tmp"/{proc,sys,run,root} "$user.tmp$repo"
  # netbase's file; the test runner and the tests resolve localhost.
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' > "$user.tmp/etc/hosts"
  mv "$user.tmp" "$user"
fi

binding=$layer/build/Release/probeflow_bpf.node
text=$layer/build/Release/probeflow_text.node
if [ ! -s "$binding" ] || [ ! -s "$text" ] || [ native/probeflow_bpf.cc -nt "$binding" ] || [ native/exposition_text.cc -nt "$text" ]; then
  echo "kernels: cross-compiling the native addons for arm64" >&2
  work=$(mktemp -d)
  cp binding.gyp "$work/" && cp -r native "$work/"
  mkdir -p "$work/node_modules" "$work/inc" "$work/lib"
  ln -s "$repo/node_modules/node-addon-api" "$work/node_modules/node-addon-api"
  # Only libbpf from the userland: its libc/libm linker scripts name absolute paths.
  ln -s "$user/usr/include/bpf" "$work/inc/bpf"
  ln -s "$user/usr/lib/aarch64-linux-gnu/libbpf.so.1" "$work/lib/libbpf.so"
  (cd "$work" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
    CXXFLAGS="-I$work/inc" LDFLAGS="-L$work/lib -Wl,-rpath-link=$user/usr/lib/aarch64-linux-gnu" \
    "$repo/node_modules/.bin/node-gyp" rebuild --arch=arm64 --nodedir=/usr > "$work/build.log" 2>&1) ||
    { echo "kernels: the arm64 binding did not build; $work/build.log says:" >&2; tail -20 "$work/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$binding")" && cp "$work/build/Release/probeflow_bpf.node" "$binding" && cp "$work/build/Release/probeflow_text.node" "$text"
  rm -rf "$work"
fi

# The arm64 twins of node_modules' native packages, at the versions installed here.
for pkg in "@esbuild/linux-arm64 esbuild" "@rollup/rollup-linux-arm64-gnu rollup"; do
  set -- $pkg
  version=$(node -p "require('$2/package.json').version")
  dest=$layer/node_modules/$1
  [ -f "$dest/package.json" ] && [ "$(node -p "require('$dest/package.json').version")" = "$version" ] && continue
  echo "kernels: fetching $1@$version" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$1@$version" > /dev/null)
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$tmp"/*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
done

echo "kernels: cross-building the test workloads for arm64" >&2
PROBEFLOW_WORKLOAD_ARCH=arm64 node --import tsx scripts/kernels/prebuild-workloads.ts
