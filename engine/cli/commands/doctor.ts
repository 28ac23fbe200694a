import { runChecks } from '../../bpf/doctor.js';

/** Prints what works and what to do about what does not; exit 1 if an essential check fails. */
export function doctorCommand(opts: { fix: boolean; json: boolean }): number {
  // Here, unlike at `run`, every object is loaded for real: the kernel's verdict, not its version's.
  const checks = runChecks({ fix: opts.fix, load: true });
  if (opts.json) {
    process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
  } else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      const mark = c.ok ? 'ok  ' : c.essential ? 'FAIL' : 'warn';
      process.stdout.write(`${mark}  ${c.name.padEnd(width)}  ${c.detail}\n`);
      if (!c.ok && c.fix) process.stdout.write(`${' '.repeat(width + 8)}→ ${c.fix}\n`);
    }
  }
  return checks.some((c) => !c.ok && c.essential) ? 1 : 0;
}
