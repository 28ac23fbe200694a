import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, parse as parseYamlValue, Scalar } from 'yaml';
import type { ConfigPath } from '../components/contracts.js';
import type { ConfigIssue } from './issue.js';
import type { ConfigSource } from './source.js';

/**
 * `${NAME}`, `${NAME:-default}` and `${file:PATH}` in string values, so secrets (AOM tokens,
 * bearer tokens) come from the environment or a mounted Secret file and never sit in
 * pipeline.yaml. `$${` writes a literal `${`.
 * A plain (unquoted) scalar that is a single reference is re-read as YAML, so
 * `port: ${PORT}` yields a number as it would have written inline.
 */
const REF = /\$\$\{|\$\{([^}]*)\}/g;

export interface InterpolationEnv {
  env: NodeJS.ProcessEnv;
  baseDir: string;
}

export function interpolate(source: ConfigSource, { env, baseDir }: InterpolationEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isPair(pair) && isScalar(pair.key)) walk(pair.value, [...path, String(pair.key.value)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      replaceIn(node, path);
    }
  };
  const replaceIn = (node: Scalar, path: ConfigPath) => {
    const text = node.value as string;
    let failed = false;
    let whole = false;
    const out = text.replace(REF, (match, ref: string | undefined, offset: number) => {
      if (match === '$${') return '${';
      whole = offset === 0 && match.length === text.length;
      const value = resolveRef(ref!.trim());
      if (value instanceof Error) {
        failed = true;
        issues.push({ severity: 'error', file: source.file, ...source.position(node.range?.[0] ?? 0), path, message: value.message });
        return match;
      }
      return value;
    });
    if (failed) return;
    node.value = whole && node.type === Scalar.PLAIN ? reparse(out) : out;
  };
  const resolveRef = (ref: string): string | Error => {
    if (ref.startsWith('file:')) {
      const p = ref.slice(5).trim();
      const file = isAbsolute(p) ? p : resolve(baseDir, p);
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (e) {
        return new Error(`cannot read \${file:${p}} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): mount the secret file there or fix the path`);
      }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(ref);
    if (!m) return new Error(`"\${${ref}}" is not a valid reference: use \${NAME}, \${NAME:-default} or \${file:/path}`);
    const value = env[m[1]!];
    if (value !== undefined && value !== '') return value;
    if (m[2] !== undefined) return m[2];
    return new Error(`environment variable ${m[1]} is not set: export it, or give a default with \${${m[1]}:-value}`);
  };
  walk(source.doc.contents, []);
  return issues;
}

function reparse(text: string): unknown {
  try {
    const v: unknown = parseYamlValue(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}
