import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../util/package-root.js';
import type { ComponentKind, JsonSchema } from './contracts.js';

/** A component's schema lives once, in schemas/<kind>s/<type>.schema.json; code reads it from there. */
export function loadComponentSchema(kind: ComponentKind, type: string): JsonSchema {
  const file = join(PACKAGE_ROOT, 'schemas', `${kind}s`, `${type}.schema.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as JsonSchema;
}

export function loadSharedSchema(name: string): JsonSchema {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schemas', `${name}.schema.json`), 'utf8')) as JsonSchema;
}
