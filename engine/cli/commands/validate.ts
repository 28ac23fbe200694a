import type { Registry } from '../../components/registry.js';
import { ConfigLoader } from '../../config/load-config.js';
import { formatIssue } from '../../config/issue.js';
import type { WritePolicy } from '../../security/write-policy.js';

export function validateCommand(files: string[], opts: { quiet: boolean; writePolicy: WritePolicy }, registry: Registry): number {
  const loader = new ConfigLoader(registry, { writePolicy: opts.writePolicy });
  let failed = 0;
  for (const file of files) {
    const { issues, topology } = loader.check(file);
    for (const i of issues) process.stderr.write(formatIssue(i) + '\n');
    if (!topology) failed++;
    else if (!opts.quiet) {
      const warnings = issues.length;
      process.stdout.write(`${file}: valid (${topology.pipelines.length} pipeline${topology.pipelines.length === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''})\n`);
    }
  }
  if (failed) process.stderr.write(`${failed} of ${files.length} file${files.length === 1 ? '' : 's'} invalid\n`);
  return failed ? 1 : 0;
}
