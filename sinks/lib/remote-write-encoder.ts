import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import snappy from 'snappy';
import type { WireSample } from './remote-write-samples.js';
import { PACKAGE_ROOT } from '../../engine/util/package-root.js';

const root = protobuf.parse(readFileSync(join(PACKAGE_ROOT, 'sinks', 'lib', 'remote-write.proto'), 'utf8'), { keepCase: true }).root;
const WriteRequest = root.lookupType('prometheus.WriteRequest');

/**
 * A WriteRequest for a batch, series in first-seen order and each series' samples in
 * arrival order (remote_write requires per-series timestamp order), protobuf-encoded and
 * snappy-compressed in the block format (not the framed one).
 */
export function encodeWriteRequest(batch: readonly WireSample[]): Buffer {
  const series = new Map<string, { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }>();
  for (const s of batch) {
    let ts = series.get(s.key);
    if (!ts) series.set(s.key, (ts = { labels: s.labels.map(([name, value]) => ({ name, value })), samples: [] }));
    ts.samples.push({ value: s.value, timestamp: s.timestamp });
  }
  const bytes = WriteRequest.encode(WriteRequest.fromObject({ timeseries: [...series.values()] })).finish();
  return snappy.compressSync(Buffer.from(bytes));
}

/** The inverse, for tests and a local receiver: snappy block → WriteRequest as plain objects. */
export function decodeWriteRequest(body: Buffer): { timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[] } {
  const raw = snappy.uncompressSync(body, { asBuffer: true }) as Buffer;
  const msg = WriteRequest.decode(raw);
  return WriteRequest.toObject(msg, { longs: Number, defaults: true }) as never;
}
