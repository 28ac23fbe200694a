import { spawnSync } from 'node:child_process';

/**
 * Where a test needs a program beside the agent (a real receiver, promtool, gdb, setpriv),
 * its absence is a broken machine, not a reason to skip: the test fails and says which
 * package brings it. `scripts/setup.sh` installs all of them.
 */
const PACKAGE_OF: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'victoria-metrics': 'victoria-metrics',
  gdb: 'gdb',
  setpriv: 'util-linux',
  bpftool: 'bpftool',
  bpftrace: 'bpftrace',
  openssl: 'openssl',
  ss: 'iproute2',
};

const found = new Map<string, boolean>();

export function hasTool(name: string): boolean {
  let ok = found.get(name);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
    found.set(name, ok);
  }
  return ok;
}

/** Throws, naming the install command, when `name` is not on PATH. */
export function requireTool(name: string): void {
  if (hasTool(name)) return;
  const pkg = PACKAGE_OF[name] ?? name;
  throw new Error(`${name} is not installed: run \`bash scripts/setup.sh\` (or \`apt-get install ${pkg}\`); this test needs the real program`);
}
