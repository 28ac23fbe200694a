import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { PACKAGE_ROOT } from '../util/package-root.js';

/** The surface of native/probeflow_bpf.cc (and process_memory.cc, built into the same addon). */
export interface NativeBpfObject {
  setGlobal(name: string, value: Buffer): void;
  setAutoload(program: string, on: boolean): void;
  setMaxEntries(map: string, entries: number): void;
  reuseMapsFrom(other: NativeBpfObject): void;
  load(): void;
  programs(): { name: string; section: string; fd: number }[];
  maps(): NativeMapInfo[];
  attachUprobe(program: string, binary: string, fileOffset: number, pid: number, cookie: number): number;
  useUprobeMulti(program: string): void;
  attachUprobeMulti(program: string, binary: string, fileOffsets: number[], cookies: number[], pid: number): number;
  attachTracepoint(program: string, category: string, name: string, cookie: number): number;
  attachRawTracepoint(program: string, name: string): number;
  attachKprobe(program: string, func: string, retprobe: boolean, cookie: number): number;
  attach(program: string): number;
  linkId(link: number): number;
  detach(link: number): boolean;
  detachAsync(links: number[]): Promise<number>;
  closeAsync(): Promise<number>;
  /** `batched`: read with BPF_MAP_LOOKUP_BATCH (5.6+), else entry by entry. */
  readMap(name: string, allowBatch?: boolean): { count: number; keySize: number; valueStride: number; cpus: number; batched: boolean; keys: Buffer; values: Buffer };
  readKeys(name: string, allowBatch?: boolean): { count: number; keySize: number; keys: Buffer };
  updateElem(map: string, key: Buffer, value: Buffer): void;
  deleteElem(map: string, key: Buffer): boolean;
  mapFd(map: string): number;
  close(): void;
}

export interface NativeMapInfo {
  name: string;
  type: string;
  fd: number;
  keySize: number;
  valueSize: number;
  valueStride: number;
  maxEntries: number;
  perCpu: boolean;
}

export interface NativeRingBuffer {
  drain(): number;
  close(): void;
}

export interface NativeBinding {
  BpfObject: new (path: string) => NativeBpfObject;
  RingBuffer: new (obj: NativeBpfObject, map: string, onRecords: (records: Buffer) => void) => NativeRingBuffer;
  takeLog(): string[];
  possibleCpus(): number;
  libbpfVersion(): string;
  probeProgType(type: number): number;
  probeMapType(type: number): number;
  /** 1 when programs of `progType` may call helper `helperId` on this kernel, 0 when not, < 0 on error. */
  probeHelper(progType: number, helperId: number): number;
  /**
   * `count` ranges ([address, length] pairs) of an open /proc/PID/mem, read one after another
   * into `out`: how many were read whole (count when all were).
   */
  preadRanges(fd: number, ranges: Float64Array, count: number, out: Uint8Array): number;
}

let binding: NativeBinding | undefined;
let libbpfLog: Logger | undefined;

/** Where libbpf's own messages go (warnings at warn, the rest at debug). */
export function setLibbpfLogger(log: Logger): void {
  libbpfLog = log;
}

/** Moves what libbpf printed since the last call into our logger. */
export function flushLibbpfLog(): void {
  if (!binding || !libbpfLog) return;
  for (const line of binding.takeLog()) {
    if (line.startsWith('warn: ')) libbpfLog.warn(line.slice(6));
    else libbpfLog.debug(line.replace(/^info: /, ''));
  }
}
let loadError: Error | undefined;

/** The addon, loaded on first use so config validation works where it was never built. */
export function native(): NativeBinding {
  if (binding) return binding;
  if (loadError) throw loadError;
  try {
    binding = createRequire(import.meta.url)(join(PACKAGE_ROOT, 'build', 'Release', 'probeflow_bpf.node')) as NativeBinding;
    return binding;
  } catch (e) {
    loadError = new Error(
      `the libbpf binding is not available (${(e as Error).message.split('\n')[0]}): run \`npm run build\` (needs libbpf-dev, clang, node-gyp) — see README`,
    );
    throw loadError;
  }
}
