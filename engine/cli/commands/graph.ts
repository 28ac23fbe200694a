import type { Registry } from '../../components/registry.js';
import { ConfigLoader } from '../../config/load-config.js';
import { formatIssue } from '../../config/issue.js';
import { renderDot, renderText } from '../../graph/render.js';

export function graphCommand(file: string, format: 'text' | 'dot', registry: Registry): number {
  const { issues, topology } = new ConfigLoader(registry).check(file);
  for (const i of issues) process.stderr.write(formatIssue(i) + '\n');
  if (!topology) return 1;
  process.stdout.write(format === 'dot' ? renderDot(topology) : renderText(topology));
  return 0;
}
