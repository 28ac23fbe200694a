import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface GoToolchain {
  version: string;
  go: string;
  env: NodeJS.ProcessEnv;
  src: string;
}

/** Debian's Go 1.19 plus the toolchains scripts/fetch-go-toolchains.sh put in .cache/go. */
export function goToolchains(): GoToolchain[] {
  const out: GoToolchain[] = [];
  try {
    const v = /go(\d+\.\d+)/.exec(execFileSync('go', ['version'], { encoding: 'utf8' }))?.[1];
    if (v) out.push({ version: v, go: 'go', env: {}, src: `/usr/share/go-${v}/src` });
  } catch {
    // No system Go that runs here. In an arm64 guest the workloads were cross-built on the
    // host (scripts/kernels/prebuild-workloads.ts), which noted the system Go's version.
    const noted = join(ROOT, '.cache', 'workloads', 'system-go-version');
    if (existsSync(noted)) {
      const v = readFileSync(noted, 'utf8').trim();
      out.push({ version: v, go: 'go', env: {}, src: `/usr/share/go-${v}/src` });
    }
  }
  for (const v of ['1.21', '1.22', '1.23', '1.24']) {
    const root = join(ROOT, '.cache', 'go', v, 'usr', 'lib', `go-${v}`);
    if (existsSync(join(root, 'bin', 'go'))) out.push({ version: v, go: join(root, 'bin', 'go'), env: { GOROOT: root, GOTOOLCHAIN: 'local' }, src: join(ROOT, '.cache', 'go', v, 'usr', 'share', `go-${v}`, 'src') });
  }
  return out;
}
