import type { BpfObjectProbeConfig } from '../../schemas/types.generated.js';
import { cstring } from './elf-file.js';

type MetricLabel = NonNullable<NonNullable<BpfObjectProbeConfig['metrics']['counters']>[number]['labels']>[number];
type Decoder = MetricLabel['decoders'][number];

/** A decoded key: label values in order, or undefined when a decoder filtered the entry out. */
export type DecodedKey = { labels: Record<string, string>; values: string[] } | undefined;

/**
 * Map keys → label values, as ebpf_exporter's decoders do: each label reads `size` bytes
 * (then skips `padding`), and its decoders run in order, each on the previous one's output.
 */
export function keyDecoder(labels: readonly MetricLabel[]): (key: Buffer) => DecodedKey {
  const steps = labels.map((l) => ({ label: l, run: l.decoders.map(decoderFn) }));
  return (key) => {
    const out: Record<string, string> = {};
    const values: string[] = [];
    let at = 0;
    for (const { label, run } of steps) {
      const field = key.subarray(at, at + label.size);
      at += label.size + (label.padding ?? 0);
      let v: string | undefined = undefined;
      let raw: Buffer | string = field;
      for (const d of run) {
        v = d(raw);
        if (v === undefined) return undefined;
        raw = v;
      }
      values.push(v ?? '');
      if (!label.decoders.some((d) => d.name === 'drop')) out[label.name] = v ?? '';
    }
    return { labels: out, values };
  };
}

/** Key bytes a label list covers: a check against the map's key size. */
export function keyBytes(labels: readonly MetricLabel[]): number {
  return labels.reduce((n, l) => n + l.size + (l.padding ?? 0), 0);
}

function decoderFn(d: Decoder): (input: Buffer | string) => string | undefined {
  switch (d.name) {
    case 'uint':
      return (b) => (typeof b === 'string' ? b : readUint(b).toString());
    case 'string':
      return (b) => (typeof b === 'string' ? b : cstring(b, 0));
    case 'hex':
      return (b) => (typeof b === 'string' ? Buffer.from(b).toString('hex') : b.toString('hex'));
    case 'static_map': {
      const map = d.static_map ?? {};
      return (b) => {
        const k = typeof b === 'string' ? b : readUint(b).toString();
        return map[k] ?? (d.allow_unknown ? k : `unknown:${k}`);
      };
    }
    case 'regexp': {
      const res = (d.regexps ?? []).map((r) => new RegExp(r));
      return (b) => {
        const s = typeof b === 'string' ? b : cstring(b, 0);
        return res.some((r) => r.test(s)) ? s : undefined;
      };
    }
    case 'drop':
      return () => '';
  }
}

/** Little-endian unsigned integer of 1–8 bytes. */
export function readUint(b: Buffer): bigint {
  let v = 0n;
  for (let i = Math.min(b.length, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}
