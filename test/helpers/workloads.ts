import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, waitFor } from './cli.js';

const CACHE = join(ROOT, '.cache', 'workloads');
const SRC = join(ROOT, 'test', 'workloads');

/**
 * The architecture workloads are built for: this machine's, or another one's when
 * PROBEFLOW_WORKLOAD_ARCH says so (scripts/kernels/prepare-arm64.sh cross-builds them on x86
 * for the arm64 guest, which has no compilers and finds them here under the same names).
 */
export type WorkloadArch = 'x64' | 'arm64';
const TARGET_ARCH = (process.env.PROBEFLOW_WORKLOAD_ARCH ?? process.arch) as WorkloadArch;
if (TARGET_ARCH !== 'x64' && TARGET_ARCH !== 'arm64') throw new Error(`workloads are built for x64 or arm64, not ${TARGET_ARCH}`);
/** The C compiler for an architecture: this machine's, or Debian's cross compiler. */
const ccFor = (arch: WorkloadArch) => (arch === process.arch ? 'cc' : arch === 'arm64' ? 'aarch64-linux-gnu-gcc' : 'x86_64-linux-gnu-gcc');
const CC = ccFor(TARGET_ARCH);
/** What `go build` needs for an architecture: GOARCH, and the C compiler cgo links with. */
const goTarget = (arch: WorkloadArch): NodeJS.ProcessEnv => (arch === process.arch ? {} : { GOARCH: arch === 'arm64' ? 'arm64' : 'amd64', CC: ccFor(arch) });
const GO_TARGET = goTarget(TARGET_ARCH);

/** Builds once per source change; binaries are cached under .cache/workloads (x64 names carry no arch). */
function cached(name: string, sources: string[], build: (out: string) => void, arch: WorkloadArch = TARGET_ARCH): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update(readFileSync(s));
  const out = join(CACHE, `${name}${arch === 'x64' ? '' : `-${arch}`}-${hash.digest('hex').slice(0, 12)}`);
  if (!existsSync(out)) {
    mkdirSync(CACHE, { recursive: true });
    build(out);
  }
  return out;
}

export function buildC(): string {
  const src = join(SRC, 'calls.c');
  return cached('calls-c', [src], (out) => execFileSync(CC, ['-O1', '-o', out, src]));
}

/** cgo: CGO_ENABLED=1, linked by the system linker and stripped, as distributions build services. */
export type GoFlavour = 'plain' | 'stripped' | 'pie' | 'cgo';

const GO_FLAGS: Record<GoFlavour, string[]> = {
  plain: [],
  stripped: ['-ldflags=-s -w'],
  pie: ['-buildmode=pie'],
  cgo: ['-ldflags=-s -w -linkmode=external'],
};

/** Builds a Go program under test/workloads/<dir> with a given toolchain and flavour, cached. */
export function buildGoProgram(dir: string, flavour: GoFlavour, tc: { version: string; go: string; env: NodeJS.ProcessEnv }, arch: WorkloadArch = TARGET_ARCH): string {
  const src = join(SRC, dir);
  const sources = readdirSync(src).filter((f) => f.endsWith('.go') || f === 'go.mod').sort().map((f) => join(src, f));
  return cached(`${dir}-go${tc.version}-${flavour}`, sources, (out) => {
    execFileSync(tc.go, ['build', '-o', out, ...GO_FLAGS[flavour], '.'], {
      cwd: src,
      env: { ...process.env, ...tc.env, ...goTarget(arch), GOFLAGS: '-mod=mod', GOCACHE: join(CACHE, `gocache-${tc.version}`), GOPATH: join(CACHE, 'gopath'), CGO_ENABLED: flavour === 'cgo' ? '1' : '0' },
    });
  }, arch);
}

/** Where Debian's golang-*-dev packages put their sources: a GOPATH. */
export const DEBIAN_GOPATH = '/usr/share/gocode';

/**
 * test/workloads/go-client-golang, built in GOPATH mode against Debian's client_golang
 * (golang-github-prometheus-client-golang-dev, installed by scripts/setup.sh), stripped.
 */
export function buildClientGolangWorkload(tc: { version: string; go: string; env: NodeJS.ProcessEnv }): string {
  const src = join(SRC, 'go-client-golang');
  const lib = join(DEBIAN_GOPATH, 'src', 'github.com', 'prometheus', 'client_golang', 'prometheus', 'promhttp');
  // Only a build needs the sources: the arm64 guest runs the binary prebuilt on the host.
  return cached(`go-client-golang-go${tc.version}`, [join(src, 'main.go')], (out) => {
    if (!existsSync(lib)) throw new Error(`${lib} is missing: run scripts/setup.sh (it installs golang-github-prometheus-client-golang-dev)`);
    execFileSync(tc.go, ['build', '-o', out, '-ldflags=-s -w', '.'], {
      cwd: src,
      env: { ...process.env, ...tc.env, ...GO_TARGET, GO111MODULE: 'off', GOPATH: DEBIAN_GOPATH, GOFLAGS: '', GOCACHE: join(CACHE, `gocache-${tc.version}`), CGO_ENABLED: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  });
}

/** test/workloads/go-calls; `arch` cross-builds (pure Go: the host's Go builds arm64 itself). */
export function buildGo(flavour: GoFlavour, goBin = 'go', arch: WorkloadArch = TARGET_ARCH): string {
  const dir = join(SRC, 'go-calls');
  const args = ['build', '-o'];
  return cached(`go-calls-${flavour}`, [join(dir, 'main.go'), join(dir, 'go.mod')], (out) => {
    const extra = flavour === 'stripped' ? ['-ldflags=-s -w'] : flavour === 'pie' ? ['-buildmode=pie'] : [];
    execFileSync(goBin, [...args, out, ...extra, '.'], { cwd: dir, env: { ...process.env, ...goTarget(arch), GOFLAGS: '-mod=mod', GOCACHE: join(CACHE, 'gocache'), GOPATH: join(CACHE, 'gopath'), CGO_ENABLED: '0' } });
  }, arch);
}

/** examples/demo-workload, stripped as `make demo` builds it: runs busy until killed. */
export function buildDemoWorkload(): string {
  const dir = join(ROOT, 'examples', 'demo-workload');
  return cached('demo-workload', [join(dir, 'main.go'), join(dir, 'go.mod')], (out) =>
    execFileSync('go', ['build', '-ldflags=-s -w', '-o', out, '.'], { cwd: dir, env: { ...process.env, ...GO_TARGET, GOFLAGS: '-mod=mod', GOCACHE: join(CACHE, 'gocache'), GOPATH: join(CACHE, 'gopath'), CGO_ENABLED: '0' } }),
  );
}

/** A workload process that waits for go() to do its N calls and finish() to exit. */
export interface Workload {
  child: ChildProcess;
  pid: number;
  go(): Promise<void>;
  finish(): Promise<void>;
}

export async function startWorkload(bin: string, calls: number): Promise<Workload> {
  const child = spawn(bin, [String(calls)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('ready'), 10_000, `${bin} to start`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    go: async () => {
      child.stdin!.write('\n');
      await waitFor(() => out.includes('done'), 10_000, `${bin} to finish its calls`);
    },
    finish: async () => {
      child.stdin!.end('\n');
      await exited;
    },
  };
}

/** test/fixtures/byo's own .bpf.o, compiled here with clang as a user would, against the vmlinux.h the build generated. */
export function buildByoObject(): string {
  const out = join(ROOT, '.cache', 'byo');
  mkdirSync(out, { recursive: true });
  const obj = join(out, 'byo_demo.bpf.o');
  execFileSync('clang', ['-target', 'bpf', '-O2', '-g', '-D__TARGET_ARCH_x86', `-I${join(ROOT, 'bpf')}`, '-c', join(ROOT, 'test/fixtures/byo/byo_demo.bpf.c'), '-o', obj]);
  return obj;
}
