import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../engine/cli/builtin-registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { formatIssue } from '../engine/config/issue.js';
import { IMAGE_ENV, IMAGE_NODE_FLAGS } from '../bench/lib.js';
import { ROOT } from './helpers/cli.js';
import { renderChart } from './helpers/helm-subset.js';

/** kubernetes-models class of each kind we ship. */
const MODELS: Record<string, { module: string; name: string }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1', name: 'Namespace' },
  'v1/ServiceAccount': { module: 'kubernetes-models/v1', name: 'ServiceAccount' },
  'v1/ConfigMap': { module: 'kubernetes-models/v1', name: 'ConfigMap' },
  'apps/v1/DaemonSet': { module: 'kubernetes-models/apps/v1', name: 'DaemonSet' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { module: 'kubernetes-models/rbac.authorization.k8s.io/v1', name: 'ClusterRole' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { module: 'kubernetes-models/rbac.authorization.k8s.io/v1', name: 'ClusterRoleBinding' },
  'monitoring.coreos.com/v1/PodMonitor': { module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', name: 'PodMonitor' },
};

function docs(text: string, where: string): Record<string, any>[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0]!.message}`);
    return d.toJS() as Record<string, any>;
  }).filter(Boolean);
}

const plain = ['probeflow.yaml', 'daemonset-privileged.yaml', 'podmonitor.yaml'].flatMap((f) => docs(readFileSync(join(ROOT, 'deploy/kubernetes', f), 'utf8'), f).map((d) => ({ source: `deploy/kubernetes/${f}`, doc: d })));
const chart = join(ROOT, 'deploy/helm/probeflow');
const rendered = [
  { label: 'helm (defaults)', values: {} },
  { label: 'helm (aom, podMonitor, privileged)', values: { aom: { enabled: true, projectId: '0123456789abcdef0123456789abcdef' }, podMonitor: { enabled: true }, privileged: true } },
  { label: 'helm (own pipeline)', values: { pipeline: readFileSync(join(ROOT, 'pipelines/go-runtime.yaml'), 'utf8') } },
].flatMap(({ label, values }) => renderChart(chart, values).flatMap((t, i) => docs(t, `${label} #${i}`).map((d) => ({ source: label, doc: d }))));
const all = [...plain, ...rendered];

describe('deployment manifests', () => {
  it('covers every kind we ship with a Kubernetes model', () => {
    for (const { doc, source } of all) expect(MODELS[`${doc.apiVersion}/${doc.kind}`], `${source}: ${doc.kind}`).toBeDefined();
    expect(all.filter((d) => d.doc.kind === 'DaemonSet').length).toBeGreaterThanOrEqual(5);
  });

  it('validate against the Kubernetes schemas (kubernetes-models)', async () => {
    for (const { doc, source } of all) {
      const m = MODELS[`${doc.apiVersion}/${doc.kind}`]!;
      const Model = (await import(m.module))[m.name];
      expect(() => new Model(doc).validate(), `${source}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
    }
  });

  it('have no invented fields: TypeScript excess-property checks against the model types', () => {
    const dir = mkdtempSync(join(ROOT, '.cache', 'manifest-check-'));
    const imports = [...new Set(Object.values(MODELS).map((m) => m.module))].map((mod, i) => `import * as m${i} from '${mod}';`);
    const modIndex = new Map([...new Set(Object.values(MODELS).map((m) => m.module))].map((mod, i) => [mod, i]));
    const lines = all.map(({ doc }, i) => {
      const m = MODELS[`${doc.apiVersion}/${doc.kind}`]!;
      return `const d${i}: m${modIndex.get(m.module)}.I${m.name} = ${JSON.stringify(doc)};`;
    });
    const file = join(dir, 'manifests.ts');
    try {
      writeFileSync(file, [...imports, ...lines, 'export {};'].join('\n'));
      const program = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [] });
      const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diags).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('catches an invented field (the strict check can fail)', () => {
    const dir = mkdtempSync(join(ROOT, '.cache', 'manifest-check-'));
    const file = join(dir, 'bad.ts');
    try {
      writeFileSync(file, `import type { IDaemonSet } from 'kubernetes-models/apps/v1';\nconst d: IDaemonSet = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {}, spec: { selector: {}, template: { spec: { containers: [{ name: 'c', hostPidd: true }] } } } };\nexport {};`);
      const program = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [] });
      expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n')).toMatch(/hostPidd/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('ship a pipeline.yaml that probeflow validates, in every ConfigMap', () => {
    const loader = new ConfigLoader(builtinRegistry());
    const maps = all.filter((d) => d.doc.kind === 'ConfigMap' && !d.doc.metadata.name.endsWith('-grafana-dashboards'));
    expect(maps.length).toBe(4);
    for (const { doc, source } of maps) {
      const file = join(mkdtempSync(join(tmpdir(), 'pf-cm-')), 'pipeline.yaml');
      writeFileSync(file, doc.data['pipeline.yaml']);
      const { issues, topology } = loader.check(file);
      expect(issues.filter((i) => i.severity === 'error').map(formatIssue), source).toEqual([]);
      expect(topology, source).toBeDefined();
    }
  });

  it('ship the Grafana dashboards of deploy/grafana as a ConfigMap the kube-prometheus-stack sidecar loads', () => {
    for (const label of new Set(rendered.map((r) => r.source))) {
      const maps = all.filter((d) => d.source === label && d.doc.metadata?.name === 'probeflow-grafana-dashboards');
      expect(maps, label).toHaveLength(1);
      const cm = maps[0]!.doc;
      expect(cm.metadata.labels).toEqual({ grafana_dashboard: '1' });
      // Byte for byte the files the scraped test runs every query of, each a dashboard.
      expect(cm.data['probeflow-go-runtime.json']).toBe(readFileSync(join(ROOT, 'deploy/grafana/go-runtime.json'), 'utf8').replace(/\n$/, ''));
      expect(cm.data['probeflow-agent.json']).toBe(readFileSync(join(ROOT, 'deploy/grafana/probeflow-agent.json'), 'utf8').replace(/\n$/, ''));
      for (const json of Object.values(cm.data as Record<string, string>)) expect(JSON.parse(json).templating.list[0].name).toBe('datasource');
      // A ConfigMap holds at most 1 MiB.
      expect(JSON.stringify(cm).length).toBeLessThan(1 << 20);
    }
    const off = renderChart(chart, { grafanaDashboards: { enabled: false } }).flatMap((t) => docs(t, 'dashboards off'));
    expect(off.some((d) => d.metadata?.name === 'probeflow-grafana-dashboards')).toBe(false);
  });

  it('the image runs node with the settings bench/ measures as "the image"', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint.slice(1, -1)).toEqual(IMAGE_NODE_FLAGS);
    for (const [name, value] of Object.entries(IMAGE_ENV)) expect(dockerfile).toMatch(new RegExp(`^ENV ${name}=${value}$`, 'm'));
  });

  it('the image carries every file the agent reads from its package at run time', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copied = [...runtime.matchAll(/^COPY --from=build (.+) \S+$/gm)].flatMap((m) => m[1]!.split(' ').map((p) => p.replace(/^\/src\//, '')));
    // Every join(PACKAGE_ROOT, 'a', 'b', …) in the sources, up to its first computed part.
    const sources = execFileSync('git', ['ls-files', 'engine', 'probes', 'sinks', 'stages'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'));
    const paths = new Set<string>();
    for (const f of sources) {
      for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/join\(PACKAGE_ROOT((?:, '[^']+')+)/g)) paths.add([...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]).join('/'));
    }
    expect(paths).toContain('sinks/lib/otlp-metrics.proto');
    // A computed tail (bpf/<arch>/…) is covered by the copies under its fixed part.
    for (const p of paths) expect(copied.some((c) => p === c || p.startsWith(`${c.replace(/\/$/, '')}/`) || c.startsWith(`${p}/`)), `${p} is read at run time but not copied into the image`).toBe(true);
  });

  it('mount the config as a directory (never subPath) and give the agent what it needs', () => {
    for (const { doc, source } of all.filter((d) => d.doc.kind === 'DaemonSet')) {
      const pod = doc.spec.template.spec;
      const c = pod.containers[0];
      expect(pod.hostPID, source).toBe(true);
      expect(c.volumeMounts.find((v: any) => v.name === 'config'), source).toEqual({ name: 'config', mountPath: '/etc/probeflow', readOnly: true });
      expect(c.volumeMounts.some((v: any) => 'subPath' in v), source).toBe(false);
      for (const path of ['/sys/kernel/btf', '/sys/kernel/tracing', '/sys/kernel/debug', '/sys/fs/bpf']) expect(c.volumeMounts.map((v: any) => v.mountPath), source).toContain(path);
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.args).toEqual(['run', '-c', '/etc/probeflow/pipeline.yaml', '--http-listen', ':9465', '--log-format', 'json']);
      expect(doc.spec.template.metadata.annotations['prometheus.io/scrape']).toBe('true');
      // The set test/reliability/capabilities.test.ts runs the agent with, plus memlock for kernels < 5.11.
      if (!c.securityContext.privileged) expect(c.securityContext.capabilities).toEqual({ add: ['SYS_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'SYS_RESOURCE'], drop: ['ALL'] });
      expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    }
  });
});
