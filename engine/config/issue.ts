import type { ConfigPath } from '../components/contracts.js';

/** A located problem in a config file; `validate` prints it as FILE:LINE:COL: [path: ]message. */
export interface ConfigIssue {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  col: number;
  path: ConfigPath;
  message: string;
}

/** `pipelines.go.stages[1].buckets`: the way users read a field's place in YAML. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.path.length ? `${formatPath(i.path)}: ` : '';
  const sev = i.severity === 'warning' ? 'warning: ' : '';
  return `${i.file}:${i.line}:${i.col}: ${sev}${where}${i.message}`;
}

/** Thrown when a config cannot be used; carries every issue, not just the first. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}
