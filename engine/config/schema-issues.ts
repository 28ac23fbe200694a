import type { ErrorObject } from 'ajv';
import type { ConfigPath } from '../components/contracts.js';
import { closest } from '../util/suggest.js';
import type { ConfigIssue } from './issue.js';
import type { ConfigSource } from './source.js';

/**
 * ajv reports schema paths and terse messages; operators need the line, the field and
 * what would have been accepted. This turns each ajv error into such an issue.
 */
export function schemaIssues(errors: readonly ErrorObject[], data: unknown, source: ConfigSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // "must match then schema" only repeats the errors reported inside the branch.
    if (e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    const path = toPath(e.instancePath, data);
    const { message, at, key } = describe(e, path);
    const issue = source.issue('error', at, message, { key });
    issue.path = at;
    const id = `${issue.line}:${issue.col}:${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(issue);
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

function toPath(pointer: string, data: unknown): ConfigPath {
  if (!pointer) return [];
  const path: (string | number)[] = [];
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const asIndex = Array.isArray(node) ? Number(seg) : NaN;
    path.push(Number.isInteger(asIndex) ? asIndex : seg);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
  }
  return path;
}

function describe(e: ErrorObject, path: ConfigPath): { message: string; at: ConfigPath; key?: boolean } {
  const p = e.params as Record<string, any>;
  const expected = (e.parentSchema as Record<string, unknown> | undefined)?.['x-expected'] as string | undefined;
  const schema = e.parentSchema as Record<string, any> | undefined;
  if (typeof e.propertyName === 'string') {
    return { message: `invalid key ${show(e.propertyName)}: expected ${expected ?? `a key matching ${p.pattern}`}`, at: [...path, e.propertyName], key: true };
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(schema?.properties ?? {});
      const guess = closest(p.additionalProperty, allowed);
      const hint = guess ? `did you mean "${guess}"?` : allowed.length ? `allowed keys: ${allowed.join(', ')}` : 'no keys are allowed here';
      return { message: `unknown key "${p.additionalProperty}": ${hint}`, at: [...path, p.additionalProperty], key: true };
    }
    case 'required':
      return { message: `missing required key "${p.missingProperty}"`, at: path, key: true };
    case 'type':
      return { message: `expected ${expected ?? article(String(p.type).replace(',', ' or '))}, got ${show(e.data)}`, at: path };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      const guess = typeof e.data === 'string' ? closest(e.data, (p.allowedValues as unknown[]).map(String)) : undefined;
      const what = path[path.length - 1] === 'type' && path.length === 3 ? `unknown ${String(path[0]).replace(/s$/, '')} type ${show(e.data)}` : `${show(e.data)} is not allowed`;
      return {
        message: `${what}: expected one of ${allowed.join(', ')}${guess ? `; did you mean "${guess}"?` : ''}`,
        at: path,
      };
    }
    case 'const':
      return { message: `expected ${JSON.stringify(p.allowedValue)}, got ${show(e.data)}`, at: path };
    case 'format':
    case 'pattern':
      return { message: `expected ${expected ?? `a value matching ${p.pattern ?? p.format}`}, got ${show(e.data)}`, at: path };
    case 'propertyNames':
      // ajv also reports the failing rule itself, with params.propertyName; that one says why.
      return { message: '', at: path };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { message: `must be ${p.comparison} ${p.limit}, got ${show(e.data)}`, at: path };
    case 'minItems':
      return { message: `needs at least ${p.limit} item${p.limit === 1 ? '' : 's'}`, at: path, key: true };
    case 'maxItems':
      return { message: `takes at most ${p.limit} items, got ${(e.data as unknown[]).length}`, at: path };
    case 'uniqueItems':
      return { message: `items must be unique: items ${p.j} and ${p.i} are the same`, at: [...path, p.i] };
    case 'minProperties':
    case 'maxProperties':
      if (expected) return { message: `expected ${expected}`, at: path, key: true };
      return { message: e.keyword === 'minProperties' ? `needs at least ${p.limit} entr${p.limit === 1 ? 'y' : 'ies'}` : `takes at most ${p.limit} entries`, at: path, key: true };
    case 'minLength':
      return { message: p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters long`, at: path };
    default:
      return { message: e.message ?? e.keyword, at: path };
  }
}

/** JSON Schema says object/array; a YAML author writes mappings and lists. */
const YAML_TYPE: Record<string, string> = { object: 'mapping', array: 'list', null: 'null (empty value)' };

function article(type: string): string {
  type = type.split(' or ').map((t) => YAML_TYPE[t] ?? t).join(' or ');
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}
