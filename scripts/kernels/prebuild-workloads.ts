// Builds every test workload the BPF suite starts, for PROBEFLOW_WORKLOAD_ARCH (arm64 from
// this x86 machine), into .cache/workloads under the names the tests look up: the arm64 guest
// has no compilers and runs these. Called by scripts/kernels/prepare-arm64.sh.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/cli.js';
import { goToolchains } from '../../test/helpers/go-toolchains.js';
import { buildC, buildClientGolangWorkload, buildDemoWorkload, buildGo, buildGoProgram, type GoFlavour } from '../../test/helpers/workloads.js';

const built: string[] = [buildC(), buildDemoWorkload()];
for (const f of ['plain', 'stripped', 'pie'] as GoFlavour[]) built.push(buildGo(f));
const toolchains = goToolchains();
for (const tc of toolchains) {
  for (const f of ['plain', 'stripped', 'cgo'] as GoFlavour[]) built.push(buildGoProgram('go-fidelity', f, tc));
}
for (const tc of [toolchains[0]!, toolchains.at(-1)!]) built.push(buildClientGolangWorkload(tc));
// goToolchains() in the guest cannot run `go version`: it reads the system Go's version here.
const system = /go(\d+\.\d+)/.exec(execFileSync('go', ['version'], { encoding: 'utf8' }))?.[1];
mkdirSync(join(ROOT, '.cache', 'workloads'), { recursive: true });
if (system) writeFileSync(join(ROOT, '.cache', 'workloads', 'system-go-version'), `${system}\n`);
console.error(`kernels: ${built.length} workloads for ${process.env.PROBEFLOW_WORKLOAD_ARCH ?? process.arch} (Go ${toolchains.map((t) => t.version).join(', ')})`);
