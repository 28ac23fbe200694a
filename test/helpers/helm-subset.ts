import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * Renders our Helm chart with the subset of Helm's template language it is written in:
 * `{{ .Values.x }}`, `{{ .Release.Name }}`, `{{ .Release.Namespace }}`, `{{ quote X }}`,
 * `{{ toYaml X | nindent N }}`, `{{ .Files.Get "path" | nindent N }}` (a file under the chart,
 * symlinks followed as Helm follows them), `{{ if X }}…{{ else }}…{{ end }}`, and `{{-`/`-}}` trimming.
 * Anything else throws, so the chart cannot drift outside what this test can check. (No helm
 * binary is installable here; with one, `helm template` renders the same chart.)
 */
export function renderChart(chartDir: string, values: Record<string, unknown> = {}, release = { Name: 'probeflow', Namespace: 'probeflow' }): string[] {
  const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const ctx = { Values: merge(defaults, values), Release: release, Chart: parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')), chartDir };
  return readdirSync(join(chartDir, 'templates'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => render(readFileSync(join(chartDir, 'templates', f), 'utf8'), ctx, f));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function lookup(ctx: Record<string, unknown>, path: string, file: string): unknown {
  if (!path.startsWith('.')) throw new Error(`${file}: unsupported expression "${path}"`);
  return path
    .slice(1)
    .split('.')
    .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), ctx);
}

function render(text: string, ctx: Record<string, unknown>, file: string): string {
  // Tokenize with Helm's trimming: `{{-` eats whitespace before, `-}}` after.
  const parts: ({ text: string } | { action: string })[] = [];
  const re = /\{\{(-?)\s*(.*?)\s*(-?)\}\}/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let trimNext = false;
  while ((m = re.exec(text))) {
    let before = text.slice(last, m.index);
    if (trimNext) before = before.replace(/^\s+/, '');
    if (m[1]) before = before.replace(/\s+$/, '');
    parts.push({ text: before }, { action: m[2]! });
    trimNext = Boolean(m[3]);
    last = re.lastIndex;
  }
  parts.push({ text: trimNext ? text.slice(last).replace(/^\s+/, '') : text.slice(last) });

  const out: string[] = [];
  const stack: { active: boolean; taken: boolean }[] = [];
  const active = () => stack.every((s) => s.active);
  for (const p of parts) {
    if ('text' in p) {
      if (active()) out.push(p.text);
      continue;
    }
    const a = p.action;
    let mm: RegExpExecArray | null;
    const indented = (text: string, n: string) => '\n' + text.split('\n').map((l) => ' '.repeat(Number(n)) + l).join('\n');
    if ((mm = /^if (\S+)$/.exec(a))) {
      const v = Boolean(lookup(ctx, mm[1]!, file));
      stack.push({ active: v, taken: v });
    } else if (a === 'else') {
      const top = stack[stack.length - 1]!;
      top.active = !top.taken;
    } else if (a === 'end') stack.pop();
    else if (!active()) continue;
    else if ((mm = /^toYaml (\S+) \| nindent (\d+)$/.exec(a))) {
      out.push(indented(stringify(lookup(ctx, mm[1]!, file)).replace(/\n$/, ''), mm[2]!));
    } else if ((mm = /^\.Files\.Get "([^"]+)" \| nindent (\d+)$/.exec(a))) {
      // Helm's Files.Get gives "" for a missing file; a test is better served by the error.
      out.push(indented(readFileSync(join(ctx.chartDir as string, mm[1]!), 'utf8'), mm[2]!));
    } else if ((mm = /^quote (\S+)$/.exec(a))) out.push(JSON.stringify(String(lookup(ctx, mm[1]!, file) ?? '')));
    else if (/^\.[\w.]+$/.test(a)) out.push(String(lookup(ctx, a, file) ?? ''));
    else throw new Error(`${file}: "{{ ${a} }}" is outside the template subset this chart uses`);
  }
  return out.join('');
}
