import { Ajv, type ValidateFunction } from 'ajv';
import type { ComponentKind, JsonSchema } from '../components/contracts.js';
import type { Registry } from '../components/registry.js';
import { loadSharedSchema } from '../components/load-schema.js';
import { isDuration } from '../util/duration.js';

/** Base URI the schema files resolve their relative `$ref`s against (never fetched). */
export const SCHEMA_BASE = 'https://probeflow.invalid/schemas/';
const KINDS: ComponentKind[] = ['probe', 'stage', 'sink'];

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true, useDefaults: false });
  // Our message hint for patterns and formats, read back when an error is reported.
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addFormat('duration', { type: 'string', validate: isDuration });
  return ajv;
}

/**
 * The file schema: schemas/pipeline.schema.json with each kind's `type` enum and per-type
 * `if type == X then <schemas/<kind>s/X.schema.json>` filled in from the registry. if/then
 * rather than oneOf so a wrong option reports only against its own type's schema.
 */
export function composeFileSchema(registry: Registry): JsonSchema {
  const file = structuredClone(loadSharedSchema('pipeline')) as { $defs: Record<string, any> };
  for (const kind of KINDS) {
    const def = file.$defs[kind];
    def.properties.type.enum = registry.types(kind);
    def.allOf = registry.types(kind).map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: { $ref: `${kind}s/${type}.schema.json` },
    }));
  }
  return file as JsonSchema;
}

export function compileFileSchema(registry: Registry): ValidateFunction {
  const ajv = createAjv();
  ajv.addSchema(loadSharedSchema('common'), `${SCHEMA_BASE}common.schema.json`);
  for (const kind of KINDS) {
    for (const f of registry.list(kind)) ajv.addSchema(f.schema, `${SCHEMA_BASE}${kind}s/${f.type}.schema.json`);
  }
  return ajv.compile({ ...composeFileSchema(registry), $id: `${SCHEMA_BASE}pipeline.schema.json` });
}
