import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../engine/cli/builtin-registry.js';
import { formatIssue } from '../../engine/config/issue.js';
import { ConfigLoader } from '../../engine/config/load-config.js';
import { sampleFromJson } from '../../engine/model/sample-json.js';
import { WritePolicy } from '../../engine/security/write-policy.js';
import { fileSink } from '../../sinks/file.js';
import { probeflow } from '../helpers/cli.js';
import { gauge, testContext } from '../helpers/samples.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pf-file-'));

function config(path: string): string {
  return `probes:
  p: { type: synthetic, interval: 1s, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  dump:
    type: file
    path: "${path}"
pipelines:
  a: { inputs: [p], sinks: [dump] }
`;
}

function errorsFor(path: string, allowed: string[], configDir = fresh()): string[] {
  const file = join(configDir, 'pipeline.yaml');
  writeFileSync(file, config(path));
  const loader = new ConfigLoader(builtinRegistry(), { writePolicy: new WritePolicy(allowed) });
  return loader.check(file).issues.filter((i) => i.severity === 'error').map(formatIssue);
}

describe('file sink: where it may write', () => {
  it('refuses a path outside the allowed directories with the file, line and field', () => {
    const allowed = fresh();
    const dir = fresh();
    expect(errorsFor('/etc/cron.d/probeflow', [allowed], dir)).toEqual([
      `${join(dir, 'pipeline.yaml')}:6:11: sinks.dump.path: "/etc/cron.d/probeflow" is outside the directories the agent may write to (${allowed}); pick a path inside one, or start the agent with --allow-write DIR`,
    ]);
  });

  it('sees through .. and through symlinks that lead out', () => {
    const allowed = fresh();
    expect(errorsFor(`${allowed}/../../etc/passwd`, [allowed])[0]).toMatch(/sinks\.dump\.path: ".*\/\.\.\/\.\.\/etc\/passwd" is outside/);
    symlinkSync('/etc', join(allowed, 'out'));
    expect(errorsFor(`${allowed}/out/shadow`, [allowed])[0]).toContain(`"${allowed}/out/shadow" (it resolves to /etc/shadow) is outside`);
    // The allowed directory itself is not a file to write.
    expect(errorsFor(allowed, [allowed])[0]).toContain('is outside');
  });

  it('accepts paths inside, relative ones against the config file, and not-yet-existing subdirectories', () => {
    const allowed = fresh();
    expect(errorsFor(`${allowed}/new/sub/samples.ndjson`, [allowed])).toEqual([]);
    expect(errorsFor('samples.ndjson', [allowed], allowed)).toEqual([]);
  });

  it('the CLI takes --allow-write, and defaults to /var/lib/probeflow', () => {
    const dir = fresh();
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, config(join(dir, 'out.ndjson')));
    const refused = probeflow(['validate', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`is outside the directories the agent may write to (/var/lib/probeflow)`);
    const allowed = probeflow(['validate', '--allow-write', dir, file]);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    expect(probeflow(['validate', file], { env: { PROBEFLOW_ALLOW_WRITE: `/nowhere:${dir}` } }).code).toBe(0);
    expect(probeflow(['validate', '--allow-write', 'relative/dir', file]).stderr).toContain('--allow-write needs an absolute directory, got "relative/dir"');
  });
});

describe('file sink: writing', () => {
  const ctx = (dir: string) => ({ ...testContext('dump'), baseDir: dir, writePolicy: new WritePolicy([dir]) });

  it('appends NDJSON the replay probe can read back, and rotates by size keeping `keep` files', async () => {
    const dir = fresh();
    const c = ctx(dir);
    const sink = fileSink.create({ type: 'file', path: 'out/samples.ndjson', max_bytes: 4096, keep: 2 }, c);
    await sink.start();
    const written = Array.from({ length: 200 }, (_, i) => gauge('g', i, 1000 + i, { pid: '1' }));
    for (let i = 0; i < 200; i += 10) sink.write(written.slice(i, i + 10), { pipeline: 'a' });
    await sink.stop();
    const files = readdirSync(join(dir, 'out')).sort();
    expect(files).toEqual(['samples.ndjson', 'samples.ndjson.1', 'samples.ndjson.2']);
    for (const f of files) expect(statSync(join(dir, 'out', f)).size).toBeLessThanOrEqual(4096);
    // The newest samples are intact, in order, across the rotated files.
    const lines = ['samples.ndjson.2', 'samples.ndjson.1', 'samples.ndjson'].flatMap((f) => readFileSync(join(dir, 'out', f), 'utf8').split('\n').filter(Boolean));
    const values = lines.map((l) => (sampleFromJson(l) as { value: number }).value);
    expect(values).toEqual(Array.from({ length: values.length }, (_, i) => 200 - values.length + i));
    expect((await c.metrics.sinkSent.get()).values[0]?.value).toBe(200);
  });

  it('refuses a symlink planted at the path after validation (checked again at open), counts the loss, keeps going', async () => {
    const dir = fresh();
    const victim = join(fresh(), 'victim');
    writeFileSync(victim, 'untouched\n');
    const c = ctx(dir);
    const sink = fileSink.create({ type: 'file', path: 'samples.ndjson' }, c);
    symlinkSync(victim, join(dir, 'samples.ndjson'));
    await expect(sink.start()).rejects.toThrow(`"samples.ndjson" (it resolves to ${victim}) is outside`);
    sink.write([gauge('g', 1, 1000)], { pipeline: 'a' });
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect((await c.metrics.sinkFailed.get()).values[0]?.value).toBe(1);
    // A link that stays inside is fine: the sink writes to where it resolves.
    writeFileSync(join(dir, 'real.ndjson'), '');
    symlinkSync(join(dir, 'real.ndjson'), join(dir, 'inner.ndjson'));
    const inner = fileSink.create({ type: 'file', path: 'inner.ndjson' }, c);
    await inner.start();
    inner.write([gauge('g', 7, 1000)], { pipeline: 'a' });
    await inner.stop();
    expect(readFileSync(join(dir, 'real.ndjson'), 'utf8')).toContain('"value":7');
  });

  it('reopens a file removed from outside; when it cannot, drops and counts, and writes again once it can', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'd'));
    const c = ctx(dir);
    const sink = fileSink.create({ type: 'file', path: 'd/samples.ndjson' }, c);
    await sink.start();
    sink.write([gauge('g', 1, 1000)], { pipeline: 'a' });
    // Replace the directory with a file: reopening cannot succeed.
    rmSync(join(dir, 'd'), { recursive: true });
    writeFileSync(join(dir, 'd'), 'not a directory');
    sink.write([gauge('g', 2, 1000)], { pipeline: 'a' });
    sink.write([gauge('g', 3, 1000)], { pipeline: 'a' });
    rmSync(join(dir, 'd'));
    sink.write([gauge('g', 4, 1000)], { pipeline: 'a' });
    await sink.stop();
    expect(existsSync(join(dir, 'd', 'samples.ndjson'))).toBe(true);
    expect(readFileSync(join(dir, 'd', 'samples.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => (sampleFromJson(l) as { value: number }).value)).toEqual([4]);
    expect((await c.metrics.sinkSent.get()).values[0]?.value).toBe(2);
    expect((await c.metrics.sinkFailed.get()).values[0]?.value).toBe(2);
  });
});
