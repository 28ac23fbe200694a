import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Registry } from '../components/registry.js';
import { buildTopology, type PipelineFile } from '../graph/build-topology.js';
import type { Topology } from '../graph/topology.js';
import { interpolate } from './interpolate.js';
import { ConfigError, type ConfigIssue } from './issue.js';
import { compileFileSchema } from './schema.js';
import { schemaIssues } from './schema-issues.js';
import { ConfigSource } from './source.js';
import { WritePolicy } from '../security/write-policy.js';

export interface LoadedConfig {
  topology: Topology;
  /** Warnings only; errors throw. */
  warnings: ConfigIssue[];
  /** The file's text, for the config hash reported after reloads. */
  text: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Read this text instead of the file (tests, stdin). */
  text?: string;
}

/**
 * read → parse (positions kept) → interpolate ${…} → schema → graph. Every stage reports
 * located issues; the first stage with errors stops the pipeline of checks, because later
 * checks on a broken structure would only add noise.
 */
export class ConfigLoader {
  private readonly validateFile;

  private readonly writePolicy: WritePolicy;

  constructor(
    private readonly registry: Registry,
    opts: { writePolicy?: WritePolicy } = {},
  ) {
    this.validateFile = compileFileSchema(registry);
    this.writePolicy = opts.writePolicy ?? new WritePolicy();
  }

  load(file: string, opts: LoadOptions = {}): LoadedConfig {
    const { issues, topology, text } = this.check(file, opts);
    if (!topology) throw new ConfigError(issues);
    return { topology, warnings: issues, text };
  }

  /** Like load, but returns issues instead of throwing (for `validate`). */
  check(file: string, opts: LoadOptions = {}): { issues: ConfigIssue[]; topology?: Topology; text: string } {
    let text: string;
    try {
      text = opts.text ?? readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a YAML file' : (e as Error).message;
      return { issues: [{ severity: 'error', file, line: 1, col: 1, path: [], message: `cannot read config: ${why}` }], text: '' };
    }
    const { source, issues } = ConfigSource.parse(file, text);
    if (hasErrors(issues)) return { issues, text };
    if (source.doc.contents === null) {
      return { issues: [...issues, { severity: 'error', file, line: 1, col: 1, path: [], message: 'the file is empty: it needs at least a `pipelines:` section' }], text };
    }
    const baseDir = dirname(resolve(file));
    issues.push(...interpolate(source, { env: opts.env ?? process.env, baseDir }));
    if (hasErrors(issues)) return { issues, text };

    const data = source.doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (!this.validateFile(data)) {
      issues.push(...schemaIssues(this.validateFile.errors ?? [], data, source));
      return { issues, text };
    }
    const graph = buildTopology(data as PipelineFile, source, this.registry, { baseDir, writePolicy: this.writePolicy });
    issues.push(...graph.issues);
    return { issues, ...(graph.topology ? { topology: graph.topology } : {}), text };
  }
}

function hasErrors(issues: ConfigIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}
