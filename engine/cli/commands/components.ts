import type { AnyFactory, ComponentKind } from '../../components/contracts.js';
import type { Registry } from '../../components/registry.js';
import { loadSharedSchema } from '../../components/load-schema.js';

const KINDS: ComponentKind[] = ['probe', 'stage', 'sink'];

export function componentsCommand(type: string | undefined, json: boolean, registry: Registry): number {
  const all = KINDS.flatMap((k) => registry.list(k) as AnyFactory[]);
  const chosen = type ? all.filter((f) => f.type === type) : all;
  if (type && chosen.length === 0) {
    process.stderr.write(`no component of type "${type}"; known: ${all.map((f) => f.type).join(', ')}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify(chosen.map((f) => ({ kind: f.kind, type: f.type, description: f.description, schema: f.schema })), null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  for (const kind of KINDS) {
    const of = chosen.filter((f) => f.kind === kind);
    if (!of.length) continue;
    out.push(`${kind}s:`);
    for (const f of of) {
      out.push(`  ${f.type.padEnd(12)} ${f.description}`);
      out.push(...options(f.schema, "      "));
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/**
 * An option's schema with its `$ref` into common.schema.json followed (refs chain: rescan →
 * duration), its own keys winning; a duration is a type of its own to the reader.
 */
function resolved(prop: Record<string, any>): Record<string, any> {
  const name = /#\/\$defs\/(\w+)$/.exec(prop.$ref ?? '')?.[1];
  const target = name ? (loadSharedSchema('common') as Record<string, any>).$defs?.[name] : undefined;
  if (!name || !target) return prop;
  const { $ref: _ref, ...own } = prop;
  return name === 'duration' ? { type: 'duration', ...own } : { ...resolved(target), ...own };
}

/** One line per option: name, JSON type, default, description (nested objects indented). */
function options(schema: Record<string, any>, indent: string): string[] {
  const lines: string[] = [];
  const required = new Set<string>(schema.required ?? []);
  for (const [name, declared] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
    if (name === 'type') continue;
    const prop = resolved(declared);
    const t = prop.enum ? prop.enum.map((v: unknown) => JSON.stringify(v)).join('|') : prop.type ?? (prop.$ref?.includes('duration') ? 'duration' : prop.$ref ? 'object' : 'any');
    const def = prop.default !== undefined ? ` = ${JSON.stringify(prop.default)}` : '';
    const req = required.has(name) ? ' (required)' : '';
    lines.push(`${indent}${name}: ${Array.isArray(t) ? t.join('|') : t}${def}${req}${prop.description ? ` — ${prop.description}` : ''}`);
  }
  return lines;
}
