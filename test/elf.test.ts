import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { goStackCheck } from '../probes/lib/go-prologue.js';
import { containerIdOf, podUidOf } from '../probes/lib/processes.js';
import { globToRegExp } from '../probes/lib/target.js';
import { buildC, buildGo } from './helpers/workloads.js';

describe('binary symbols', () => {
  it('refuses what it cannot probe with a plain reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'probeflow-elf-'));
    writeFileSync(join(dir, 'script.sh'), '#!/bin/sh\necho hi\n');
    expect(() => BinarySymbols.open(join(dir, 'script.sh'))).toThrow(/script.sh: not an ELF binary/);
    expect(() => BinarySymbols.open(join(dir, 'missing'))).toThrow(/missing: no such file/);
  });

  it('finds C symbols and says a C binary is not Go', () => {
    const s = BinarySymbols.open(buildC());
    expect(s.go).toBeUndefined();
    expect(s.resolve('work')).toMatchObject({ source: 'symtab', attachDelta: 0 });
    expect(() => s.resolve('wrok')).toThrow(/no function "wrok"/);
  });

  it('tells a binary that is not Go from its section headers, without reading its symbol table', () => {
    // The C binary with its .symtab pointing past the end of the file: reading it would throw.
    const bin = join(mkdtempSync(join(tmpdir(), 'probeflow-elf-')), 'c-bad-symtab');
    copyFileSync(buildC(), bin);
    const elf = readFileSync(bin);
    const shoff = Number(elf.readBigUInt64LE(40));
    const shentsize = elf.readUInt16LE(58);
    const shnum = elf.readUInt16LE(60);
    const symtab = Array.from({ length: shnum }, (_, i) => shoff + i * shentsize).find((o) => elf.readUInt32LE(o + 4) === 2);
    expect(symtab, 'the C test binary has a .symtab').toBeDefined();
    elf.writeBigUInt64LE(BigInt(elf.length + 4096), symtab! + 24);
    writeFileSync(bin, elf);
    expect(() => BinarySymbols.open(bin)).toThrow(/read past the end/);
    expect(BinarySymbols.openGo(bin)).toBeUndefined();
    expect(BinarySymbols.openGo(process.execPath)).toBeUndefined();
    const go = BinarySymbols.openGo(buildGo('stripped'));
    expect(go?.go?.version).toMatch(/^go1\./);
    expect(go?.has('runtime.gopark')).toBe(true);
  });

  it('decodes the Go amd64 stack-check prologue forms: where the jbe is, what follows, which register', () => {
    const b = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex');
    expect(goStackCheck(b('49 3b 66 10 0f 86 09 01 00 00 48 83 c4 80'), 'x86_64')).toEqual({ jbe: 4, after: 10, reg: 'rsp' });
    expect(goStackCheck(b('49 3b 66 10 76 2a 48 83 ec 18'), 'x86_64')).toEqual({ jbe: 4, after: 6, reg: 'rsp' });
    expect(goStackCheck(b('4c 8d 64 24 f8 4d 3b 66 10 0f 86 00 01 00 00'), 'x86_64')).toEqual({ jbe: 9, after: 15, reg: 'r12' });
    expect(goStackCheck(b('4c 8d a4 24 00 fe ff ff 4d 3b 66 10 76 10'), 'x86_64')).toEqual({ jbe: 12, after: 14, reg: 'r12' });
    // NOSPLIT (no stack check): nothing to skip, the probe goes on the entry.
    expect(goStackCheck(b('48 83 ec 40 48 89 6c 24 38'), 'x86_64')).toBeUndefined();
  });
});

describe('process identity', () => {
  it('reads container ids and pod uids from cgroup paths of containerd, docker and cri-o', () => {
    const id = 'a'.repeat(64);
    expect(containerIdOf(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12345678_1234_1234_1234_123456789abc.slice/cri-containerd-${id}.scope`)).toBe(id);
    expect(containerIdOf(`0::/system.slice/docker-${id}.scope`)).toBe(id);
    expect(containerIdOf(`12:pids:/kubepods/besteffort/pod12345678-1234-1234-1234-123456789abc/${id}`)).toBe(id);
    expect(containerIdOf('0::/user.slice/user-0.slice/session-1.scope')).toBeUndefined();
    expect(podUidOf('0::/kubepods.slice/kubepods-burstable-pod12345678_1234_1234_1234_123456789abc.slice/x')).toBe('12345678-1234-1234-1234-123456789abc');
  });

  it('matches exe globs segment-wise', () => {
    expect(globToRegExp('/usr/bin/*').test('/usr/bin/api')).toBe(true);
    expect(globToRegExp('/usr/bin/*').test('/usr/bin/x/api')).toBe(false);
    expect(globToRegExp('/app/**').test('/app/x/y/server')).toBe(true);
  });
});
