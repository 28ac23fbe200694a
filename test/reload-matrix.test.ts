import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { builtinRegistry } from '../engine/cli/builtin-registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { Engine } from '../engine/runtime/engine.js';
import { Reloader, type ReloadResult } from '../engine/runtime/reloader.js';
import { WritePolicy } from '../engine/security/write-policy.js';
import { silentLogger } from '../engine/util/log.js';
import { checkFeature } from '../engine/bpf/kernel-features.js';
import { sampleToJson } from '../engine/model/sample-json.js';
import { waitFor } from './helpers/cli.js';
import { RemoteWriteReceiver } from './helpers/push-receiver.js';
import { OtlpReceiver } from './helpers/otlp-receiver.js';
import { freePort } from './helpers/servers.js';
import { gauge } from './helpers/samples.js';
import { buildByoObject, buildC, buildDemoWorkload, startWorkload } from './helpers/workloads.js';

/**
 * Every component type, one option changed at a time on the same ports, reloaded live: the
 * reload succeeds, the change shows, a kept uprobe keeps its BPF links and its counter, and
 * probeflow_component_up stays 1 — and all of that still holds after a refused config.
 *
 * Each case runs its own engine: first the kept uprobe alone (so its links are known for
 * sure), then the case's "before" config, then "after", then a refused edit of "after".
 */

interface Env {
  port: number;
  demoPid: number;
  dir: string;
  receiver: RemoteWriteReceiver;
  otlp: OtlpReceiver;
}

interface Case {
  kind: 'probe' | 'stage' | 'sink';
  type: string;
  /** The component under test as YAML (flow style), before and after the change. */
  yaml: (v: 'before' | 'after', env: Env) => string;
  /** Stages a probe case needs in front of the scrape sink (kinds it cannot take). */
  stages?: string;
  /** Holds once the "after" change is in effect. */
  effect: (env: Env) => Promise<void>;
  skip?: string;
}

const scrape = async (port: number, headers: Record<string, string> = {}) => {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers, signal: AbortSignal.timeout(3000) });
  return { status: res.status, text: await res.text() };
};
async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const scraped = (env: Env, re: RegExp) => eventually(`${re} on the scrape endpoint`, async () => re.test((await scrape(env.port)).text));

const SOURCE = `{ type: synthetic, interval: 50ms, series: [{ name: m_total, kind: counter, labels: { a: "1" }, value: { constant: 1 } }, { name: m_total, kind: counter, labels: { a: "2" }, value: { constant: 2 } }, { name: g, kind: gauge, value: { constant: 3 } }] }`;
const byAB = (v: 'before' | 'after') => (v === 'before' ? 'a' : 'b');
const kprobe = checkFeature('kprobe');

const CASES: Case[] = [
  // Probes: each feeds the scrape sink on env.port.
  { kind: 'probe', type: 'synthetic', yaml: (v) => `{ type: synthetic, interval: 50ms, series: [{ name: matrix_syn, kind: gauge, value: { constant: ${v === 'before' ? 1 : 2} } }] }`, effect: (e) => scraped(e, /\nmatrix_syn 2\n/) },
  {
    kind: 'probe',
    type: 'replay',
    yaml: (v, e) => `{ type: replay, file: ${join(e.dir, `replay-${byAB(v)}.ndjson`)}, loop: true, timestamps: now }`,
    stages: '{ type: filter, keep: { kind: [gauge] } }',
    effect: (e) => scraped(e, /\nmatrix_replay_b 1\n/),
  },
  {
    kind: 'probe',
    type: 'uprobe',
    yaml: (v, e) => `{ type: uprobe, target: { pid: ${e.demoPid} }, interval: 100ms, rescan: 50ms, points: [{ name: matrix_handle_${byAB(v)}, symbol: main.handle }] }`,
    effect: (e) => scraped(e, /\nmatrix_handle_b_total\{[^}]*\} [1-9]/),
  },
  {
    kind: 'probe',
    type: 'tracepoint',
    yaml: (v, e) => `{ type: tracepoint, target: { pid: ${e.demoPid} }, interval: 100ms, rescan: 50ms, tracepoints: [{ name: matrix_futex_${byAB(v)}, event: "syscalls:sys_enter_futex" }] }`,
    effect: (e) => scraped(e, /\nmatrix_futex_b_total\{[^}]*\} [1-9]/),
  },
  {
    kind: 'probe',
    type: 'raw_tracepoint',
    yaml: (v, e) => `{ type: raw_tracepoint, target: { pid: ${e.demoPid} }, interval: 100ms, rescan: 50ms, tracepoints: [{ name: matrix_sys_${byAB(v)}, event: sys_enter }] }`,
    effect: (e) => scraped(e, /\nmatrix_sys_b_total\{[^}]*\} [1-9]/),
  },
  {
    kind: 'probe',
    type: 'go_runtime',
    yaml: (v, e) => `{ type: go_runtime, target: { pid: ${e.demoPid} }, interval: 200ms, rescan: 100ms, metrics: [gc_cycles${v === 'after' ? ', runqueue' : ''}] }`,
    effect: (e) => scraped(e, /\ngo_sched_p_local_queue_length\{[^}]*p="0"[^}]*\} \d+/),
  },
  {
    kind: 'probe',
    type: 'bpf_object',
    yaml: (v) =>
      `{ type: bpf_object, object: ${buildByoObject()}, interval: 100ms, attach: [{ program: count_exec, auto: true }], metrics: { counters: [{ name: matrix_byo_${byAB(v)}_total, map: byo_exec_total, labels: [{ name: comm, size: 16, decoders: [{ name: string }] }] }] } }`,
    effect: (e) =>
      eventually('matrix_byo_b_total after an exec', async () => {
        execFileSync('/bin/true');
        return /\nmatrix_byo_b_total\{comm="true"\} [1-9]/.test((await scrape(e.port)).text);
      }),
  },
  {
    kind: 'probe',
    type: 'kprobe',
    yaml: (v, e) => `{ type: kprobe, target: { pid: ${e.demoPid} }, interval: 100ms, points: [{ name: matrix_kp_${byAB(v)}, function: do_sys_openat2 }] }`,
    effect: (e) => scraped(e, /\nmatrix_kp_b_total\{/),
    ...(kprobe.ok ? {} : { skip: kprobe.detail }),
  },
  // Stages: between the synthetic source and the scrape sink.
  { kind: 'stage', type: 'delta', yaml: (v) => `{ type: delta, emit: rate, rate_suffix: _r${byAB(v)} }`, effect: (e) => scraped(e, /\nm_rb\{a="2"\} [\d.]+/) },
  { kind: 'stage', type: 'rate', yaml: (v) => `{ type: rate, window: 1s, suffix: _r${byAB(v)} }`, effect: (e) => scraped(e, /\nm_rb\{a="1"\} [\d.]+/) },
  { kind: 'stage', type: 'histogram', yaml: (v) => `{ type: histogram, match: { name: g }, buckets: { explicit: [${v === 'before' ? '1' : '1, 5'}] } }`, effect: (e) => scraped(e, /\ng_bucket\{le="5"\} [1-9]/) },
  {
    kind: 'stage',
    type: 'threshold',
    yaml: (v) => `{ type: threshold, name: matrix_alert, match: { name: g }, above: ${v === 'before' ? 1 : 5} }, { type: filter, drop: { kind: [event] } }`,
    effect: (e) => scraped(e, /\nmatrix_alert 0\n/),
  },
  { kind: 'stage', type: 'filter', yaml: (v) => `{ type: filter, drop: { name: ${v === 'before' ? 'g' : 'm_total'} } }`, effect: (e) => scraped(e, /\ng 3\n/) },
  { kind: 'stage', type: 'relabel', yaml: (v) => `{ type: relabel, rules: [{ set: { env: ${byAB(v)} } }] }`, effect: (e) => scraped(e, /\ng\{env="b"\} 3\n/) },
  { kind: 'stage', type: 'aggregate', yaml: (v) => `{ type: aggregate, match: { name: m_total }, name: matrix_agg_${byAB(v)}_total }`, effect: (e) => scraped(e, /\nmatrix_agg_b_total [1-9]/) },
  // Sinks: fed by the synthetic source; the scrape sink on env.port is the case itself or absent.
  {
    kind: 'sink',
    type: 'prometheus',
    yaml: (v, e) => `{ type: prometheus, listen: "127.0.0.1:${e.port}"${v === 'after' ? ', basic_auth: { username: u, password: p }' : ''} }`,
    effect: async (e) => {
      expect((await scrape(e.port)).status).toBe(401);
      await eventually('the authorized scrape', async () => /\ng 3\n/.test((await scrape(e.port, { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })).text));
    },
  },
  {
    kind: 'sink',
    type: 'remote_write',
    yaml: (v, e) => `{ type: remote_write, url: "http://127.0.0.1:${e.receiver.port}/api/v1/write", headers: { X-Matrix: ${byAB(v)} }, queue: { batch_send_deadline: 50ms } }`,
    effect: (e) => eventually('a write with the new header', () => e.receiver.received.some((r) => r.headers['x-matrix'] === 'b')),
  },
  {
    kind: 'sink',
    type: 'otlp',
    yaml: (v, e) => `{ type: otlp, endpoint: "${e.otlp.url}", headers: { X-Matrix: ${byAB(v)} }, queue: { batch_send_deadline: 50ms } }`,
    effect: (e) => eventually('an export with the new header', () => e.otlp.received.some((r) => r.headers['x-matrix'] === 'b')),
  },
  {
    kind: 'sink',
    type: 'aom',
    yaml: (v, e) => `{ type: aom, mode: prometheus, project_id: 0123456789abcdef0123456789abcdef, url: "http://127.0.0.1:${e.receiver.port}", access_code: code-${byAB(v)}, queue: { batch_send_deadline: 50ms } }`,
    effect: (e) => eventually('a push with the new access code', () => e.receiver.received.some((r) => r.headers.authorization === 'Bearer code-b')),
  },
  {
    kind: 'sink',
    type: 'stdout',
    yaml: (v) => `{ type: stdout, format: ${v === 'before' ? 'text' : 'ndjson'} }`,
    effect: () => eventually('an NDJSON line on stdout', () => stdoutLines.some((l) => l.startsWith('{"') && l.includes('"g"'))),
  },
  {
    kind: 'sink',
    type: 'file',
    // The same file before and after: the new sink takes it over from the old one.
    yaml: (v, e) => `{ type: file, path: ${join(e.dir, 'out.log')}, format: ${v === 'before' ? 'ndjson' : 'text'} }`,
    effect: (e) => eventually('text lines in the file', () => /\n[\d:.]+ gauge +g 3\n/.test(readFileSync(join(e.dir, 'out.log'), 'utf8'))),
  },
];

const stdoutLines: string[] = [];
let demo: ChildProcess;
let receiver: RemoteWriteReceiver;
let otlp: OtlpReceiver;

beforeAll(async () => {
  demo = spawn(buildDemoWorkload(), [], { stdio: 'ignore' });
  receiver = await new RemoteWriteReceiver().start();
  otlp = await new OtlpReceiver().start();
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    // The stdout sink's lines are this test's to read, not the test runner's to print.
    if (/^(\{"|\d\d:\d\d:\d\d\.\d{3} )/.test(text)) {
      stdoutLines.push(...text.split('\n').filter(Boolean));
      return true;
    }
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  demo.kill();
  await receiver.stop();
  await otlp.stop();
});

function onHitLinks(): Set<number> {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const ids = new Set(progs.filter((p) => p.name === 'on_hit').map((p) => p.id));
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { id: number; prog_id: number }[];
  return new Set(links.filter((l) => ids.has(l.prog_id)).map((l) => l.id));
}

const upValues = async (e: Engine) => Object.fromEntries((await e.metrics.componentUp.get()).values.map((v) => [`${v.labels.kind}:${v.labels.id}`, v.value]));

describe('reload matrix: one option of each component type, same ports', () => {
  it('has a case for every registered component type', () => {
    const registry = builtinRegistry();
    for (const kind of ['probe', 'stage', 'sink'] as const) expect(CASES.filter((c) => c.kind === kind).map((c) => c.type).sort(), kind).toEqual(registry.types(kind).sort());
  });

  for (const c of CASES) {
    it.skipIf(c.skip !== undefined)(`${c.kind} ${c.type}${c.skip ? ` (skipped: ${c.skip})` : ''}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `pf-matrix-${c.type}-`));
      for (const v of ['a', 'b']) writeFileSync(join(dir, `replay-${v}.ndjson`), [1, 2].map((i) => sampleToJson(gauge(`matrix_replay_${v}`, 1, i * 1000))).join('\n'));
      const env: Env = { port: await freePort(), demoPid: demo.pid!, dir, receiver, otlp };
      const keptPort = await freePort();
      const w = await startWorkload(buildC(), 500);
      const file = join(dir, 'pipeline.yaml');
      const registry = builtinRegistry();
      const writePolicy = new WritePolicy([dir]);
      const loader = new ConfigLoader(registry, { writePolicy });
      const engine = new Engine(registry, silentLogger, { writePolicy });
      const reloader = new Reloader(file, loader, engine, silentLogger, 10, 100);

      const kept = `probes:
  kept: { type: uprobe, target: { pid: ${w.pid} }, interval: 100ms, rescan: 50ms, points: [{ name: matrix_kept_calls, symbol: work }] }
`;
      const keptSink = `  keptsink: { type: prometheus, listen: "127.0.0.1:${keptPort}" }\n`;
      const config = (v: 'before' | 'after', broken = false) => {
        const own = c.yaml(v, env).replace(/ \}$/, broken ? ', bogus_option: 1 }' : ' }');
        const probe = c.kind === 'probe' ? own : SOURCE;
        const stages = c.kind === 'stage' ? own : (c.stages ?? '');
        const sink = c.kind === 'sink' ? own : `{ type: prometheus, listen: "127.0.0.1:${env.port}" }`;
        return `${kept}  src: ${probe}
sinks:
${keptSink}  tsink: ${sink}
pipelines:
  keptflow: { inputs: [kept], sinks: [keptsink] }
  t: { inputs: [src], stages: [${stages}], sinks: [tsink] }
`;
      };
      const reload = async (text: string): Promise<ReloadResult> => {
        writeFileSync(file, text);
        return reloader.request('matrix');
      };
      const keptCount = async () => Number(/\nmatrix_kept_calls_total\{[^}]*\} (\d+)/.exec((await scrape(keptPort)).text)?.[1]);
      /** What every step must leave as it was: the kept probe's links and count, every component up. */
      const keptIntact = async (links: Set<number>) => {
        const now = onHitLinks();
        expect([...links].filter((id) => !now.has(id))).toEqual([]);
        expect(await keptCount()).toBe(500);
        const up = await upValues(engine);
        expect(up).toEqual({ 'probe:kept': 1, 'probe:src': 1, 'sink:keptsink': 1, 'sink:tsink': 1 });
      };

      try {
        writeFileSync(file, `${kept}sinks:\n${keptSink}pipelines:\n  keptflow: { inputs: [kept], sinks: [keptsink] }\n`);
        const first = loader.load(file);
        await engine.start(first.topology);
        reloader.started(first.text);
        await eventually('the kept uprobe to attach', () => onHitLinks().size > 0);
        const keptLinks = onHitLinks();
        await new Promise((r) => setTimeout(r, 200)); // its pid filter: the rescan after attach
        await w.go();
        await eventually('the kept counter at 500', async () => (await keptCount()) === 500);

        const before = await reload(config('before'));
        expect(before, JSON.stringify(before)).toMatchObject({ ok: true });
        await keptIntact(keptLinks);

        const after = await reload(config('after'));
        expect(after, JSON.stringify(after)).toMatchObject({ ok: true });
        const changed = c.kind === 'probe' ? 'probe:src' : c.kind === 'sink' ? 'sink:tsink' : 'pipeline:t';
        expect(after.ok && after.changes?.changed).toContain(changed);
        expect(after.ok && after.changes?.kept).toEqual(expect.arrayContaining(['probe:kept', 'sink:keptsink', 'pipeline:keptflow']));
        await c.effect(env);
        await keptIntact(keptLinks);

        const refused = await reload(config('after', true));
        expect(refused.ok).toBe(false);
        expect(!refused.ok && refused.errors.join('\n')).toMatch(/pipeline\.yaml:\d+:\d+: .*bogus_option/);
        await keptIntact(keptLinks);
        await c.effect(env); // the "after" config still runs
      } finally {
        await engine.stop(3000);
        await w.finish();
      }
    });
  }
});
