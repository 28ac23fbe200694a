import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../engine/cli/builtin-registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { formatIssue } from '../engine/config/issue.js';

const loader = new ConfigLoader(builtinRegistry());
const root = join(import.meta.dirname, '..');

function check(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'probeflow-cfg-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, yaml);
  const r = loader.check(file, { env });
  return { ...r, dir, lines: r.issues.map((i) => formatIssue(i).slice(file.length + 1)) };
}

const base = (sink: string) => `
probes:
  p: { type: synthetic, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  out: ${sink}
pipelines:
  a: { inputs: [p], sinks: [out] }
`;

describe('config interpolation', () => {
  it('reads ${NAME} and ${NAME:-default} from the environment', () => {
    expect(check(base('{ type: stdout, format: "${FMT}" }'), { FMT: 'ndjson' }).topology!.sinks.get('out')!.config.format).toBe('ndjson');
    expect(check(base('{ type: stdout, format: "${FMT:-text}" }')).topology!.sinks.get('out')!.config.format).toBe('text');
  });

  it('reads ${file:...} relative to the config, trimmed, and reports an unreadable one with its line', () => {
    const r = check(base('{ type: stdout, stream: "${file:stream.txt}" }'));
    expect(r.lines).toEqual([expect.stringMatching(/^5:32: sinks\.out\.stream: cannot read \$\{file:stream\.txt\} \(ENOENT\)/)]);
    writeFileSync(join(r.dir, 'stream.txt'), 'stderr\n');
    expect(loader.check(join(r.dir, 'p.yaml'), { env: {} }).topology!.sinks.get('out')!.config.stream).toBe('stderr');
  });

  it('gives a plain single reference its YAML type, keeps quoted ones strings, and honours $${', () => {
    const r = check(
      `
probes:
  p:
    type: synthetic
    ticks: \${TICKS}
    series: [{ name: x, kind: gauge, labels: { a: "\${TICKS}", b: "$\${TICKS}" }, value: { constant: 1 } }]
pipelines:
  a: { inputs: [p] }
`,
      { TICKS: '3' },
    );
    const cfg = r.topology!.probes.get('p')!.config as any;
    expect(cfg.ticks).toBe(3);
    expect(cfg.series[0].labels).toEqual({ a: '3', b: '${TICKS}' });
  });

  it('reports one YAML syntax error, not the cascade after it', () => {
    const r = check('probes:\n  p: { type: synthetic, ticks: ${T}, series: [] }\npipelines:\n  a: { inputs: [p] }\n');
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^2:33: YAML: .* \(and \d+ more YAML errors after it\)$/);
  });

  it('refuses a malformed reference with what is allowed', () => {
    expect(check(base('{ type: stdout, format: "${1BAD}" }')).lines[0]).toMatch(/not a valid reference: use \$\{NAME\}, \$\{NAME:-default\} or \$\{file:\/path\}/);
  });
});

describe('config loading', () => {
  it('reports every schema error of a file, not only the first', () => {
    const r = check(`
probes:
  p: { type: synthetic, interval: soon, ticks: 0, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
pipelines:
  a: { inputs: [p], max_series: 0 }
`);
    expect(r.lines).toEqual([
      '3:35: probes.p.interval: expected a duration such as 500ms, 10s, 1m30s or 2h, got "soon"',
      '3:48: probes.p.ticks: must be >= 1, got number 0',
      '5:33: pipelines.a.max_series: must be >= 1, got number 0',
    ]);
  });

  it('accepts a valid file with warnings for unused components, and runs nothing from them', () => {
    const r = check(`
probes:
  p: { type: synthetic, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
  spare: { type: synthetic, series: [{ name: y, kind: gauge, value: { constant: 1 } }] }
sinks:
  out: { type: stdout }
  unused: { type: stdout }
pipelines:
  a: { inputs: [p], sinks: [out] }
`);
    expect(r.topology).toBeDefined();
    expect(r.lines).toEqual([
      "4:3: warning: probes.spare: probe \"spare\" is not an input of any pipeline",
      "7:3: warning: sinks.unused: sink \"unused\" is not used by any pipeline",
    ]);
  });

  it('names a missing file and a directory plainly', () => {
    expect(formatIssue(loader.check('/nonexistent/pipeline.yaml').issues[0]!)).toBe('/nonexistent/pipeline.yaml:1:1: cannot read config: no such file');
    expect(formatIssue(loader.check(root).issues[0]!)).toMatch(/is a directory, expected a YAML file$/);
  });

  it('hashes configs independently of key order, so a reload can tell what changed', () => {
    const a = check(base('{ type: stdout, format: text, stream: stdout }')).topology!;
    const b = check(base('{ stream: stdout, format: text, type: stdout }')).topology!;
    const c = check(base('{ type: stdout, format: ndjson }')).topology!;
    expect(a.sinks.get('out')!.hash).toBe(b.sinks.get('out')!.hash);
    expect(a.sinks.get('out')!.hash).not.toBe(c.sinks.get('out')!.hash);
  });

  it('every file in examples/ and pipelines/ is valid', () => {
    const files = ['examples', 'pipelines'].flatMap((d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.yaml')).map((f) => join(root, d, f)));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const { issues, topology } = loader.check(f);
      expect(issues.filter((i) => i.severity === 'error').map(formatIssue), f).toEqual([]);
      expect(topology, f).toBeDefined();
    }
  });

  it('the generated config types match the schemas', () => {
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/gen-config-types.ts'), '--check'], { cwd: root, stdio: 'pipe' });
  });
});
