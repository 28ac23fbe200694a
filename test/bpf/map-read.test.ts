import { afterEach, describe, expect, it } from 'vitest';
import { BpfObject, bundledObjectPath, sumPerCpu, u32, type MapEntries } from '../../engine/bpf/bpf-object.js';

/** key hex → value hex, whatever order the kernel hands them out in. */
function entries(m: MapEntries): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < m.count; i++) out.set(m.keys.subarray(i * m.keySize, (i + 1) * m.keySize).toString('hex'), m.values.subarray(i * m.valueStride, (i + 1) * m.valueStride).toString('hex'));
  return out;
}

const read = (obj: BpfObject, map: string, batch: boolean) => {
  if (!batch) process.env.PROBEFLOW_MAP_BATCH = 'off';
  try {
    return obj.readMap(map);
  } finally {
    delete process.env.PROBEFLOW_MAP_BATCH;
  }
};

describe('reading a whole BPF map', () => {
  let obj: BpfObject | undefined;
  afterEach(() => obj?.close());

  it('in bulk (BPF_MAP_LOOKUP_BATCH) gives exactly what entry-by-entry gives: a per-CPU hash of 5,000 entries and a plain hash', () => {
    obj = new BpfObject(bundledObjectPath('probe_hits')).load();
    const info = obj.maps().find((m) => m.name === 'hits')!;
    const cpus = info.valueStride / (Math.ceil(info.valueSize / 8) * 8);
    const slot = info.valueStride / cpus;
    for (let i = 0; i < 5000; i++) {
      const key = Buffer.alloc(8);
      key.writeUInt32LE(i % 7, 0);
      key.writeUInt32LE(100_000 + i, 4);
      const value = Buffer.alloc(info.valueStride);
      // A different count on every CPU, the high word too, so a wrong stride or sum shows.
      for (let c = 0; c < cpus; c++) {
        value.writeUInt32LE(i + c, c * slot);
        value.writeUInt32LE(c, c * slot + 4);
      }
      obj.update('hits', key, value);
      if (i < 300) obj.update('target_pids', u32(100_000 + i), Buffer.from([1]));
    }
    for (const map of ['hits', 'target_pids']) {
      const bulk = read(obj, map, true);
      const single = read(obj, map, false);
      expect(bulk.batched).toBe(true);
      expect(single.batched).toBe(false);
      expect(bulk.count).toBe(map === 'hits' ? 5000 : 300);
      expect(entries(bulk)).toEqual(entries(single));
      // Keys alone (the sweep after processes exit), both ways: the same set.
      for (const batch of [true, false]) {
        if (!batch) process.env.PROBEFLOW_MAP_BATCH = 'off';
        const k = obj.readKeys(map);
        delete process.env.PROBEFLOW_MAP_BATCH;
        const keys = Array.from({ length: k.count }, (_, i) => k.keys.subarray(i * k.keySize, (i + 1) * k.keySize).toString('hex')).sort();
        expect(keys).toEqual([...entries(bulk).keys()].sort());
      }
    }
    // The per-CPU sum without BigInt: count i on CPU c plus c·2^32, summed over CPUs.
    const m = read(obj, 'hits', true);
    const i = m.keys.readUInt32LE(4) - 100_000;
    let want = 0;
    for (let c = 0; c < cpus; c++) want += i + c + c * 2 ** 32;
    expect(sumPerCpu(m, 0, 0)).toBe(want);
  });

  it('an empty map reads as no entries either way', () => {
    obj = new BpfObject(bundledObjectPath('probe_hits')).load();
    expect(read(obj, 'hits', true)).toMatchObject({ count: 0, batched: true });
    expect(read(obj, 'hits', false)).toMatchObject({ count: 0, batched: false });
  });
});
