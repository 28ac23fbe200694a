#!/usr/bin/env node
// `make test-kernels`: boots each QEMU guest (scripts/kernels/run-guest.sh), runs the BPF
// integration suite inside it against that kernel, and writes .cache/kernels/summary.json —
// one entry per guest, {guest, kernel, arch, passed, failed, skipped, tests: [{name, status}]} —
// plus one printed line per guest. A guest that cannot be fetched or booted is an entry with
// `error` saying why, and makes the exit status non-zero; so does a failed test.
//   node scripts/kernels/test-kernels.mjs [guest …]      (default: every guest below)
//   env TEST_KERNELS_FILES="test/bpf/tracepoint.test.ts" narrows the suite
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(ROOT, '.cache', 'kernels');
/** Debian kernels CCE's node kernels bracket (EulerOS/HCE 5.10, 6.x), and arm64 for Kunpeng nodes. */
const GUESTS = [
  { guest: 'bookworm-amd64', suite: 'bookworm', arch: 'amd64' },
  { guest: 'bullseye-amd64', suite: 'bullseye', arch: 'amd64' },
  { guest: 'bookworm-arm64', suite: 'bookworm', arch: 'arm64' },
];
const files = (process.env.TEST_KERNELS_FILES ?? 'test/bpf').split(/\s+/).filter(Boolean);
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !GUESTS.some((g) => g.guest === w));
if (unknown.length) {
  console.error(`test-kernels: unknown guest ${unknown.join(', ')}; guests: ${GUESTS.map((g) => g.guest).join(', ')}`);
  process.exit(2);
}

const summary = [];
for (const g of GUESTS.filter((x) => !wanted.length || wanted.includes(x.guest))) {
  const out = join(CACHE, 'runs', g.guest);
  mkdirSync(out, { recursive: true });
  const entry = { guest: g.guest, kernel: '', arch: g.arch, passed: 0, failed: 0, skipped: 0, tests: [] };
  const started = Date.now();
  try {
    execFileSync('bash', [join(ROOT, 'scripts/kernels/fetch-guest.sh'), g.suite, g.arch], { stdio: ['ignore', 'inherit', 'inherit'] });
    // arm64: its userland, the cross-built binding and workloads (the guest has no compilers).
    if (g.arch === 'arm64') execFileSync('bash', [join(ROOT, 'scripts/kernels/prepare-arm64.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    entry.kernel = readFileSync(join(CACHE, g.guest, 'release'), 'utf8').trim();
    // Under TCG everything takes several times longer: the default 5 s per test is not enough
    // (tests that set their own timeout keep it).
    const cmd = `node node_modules/vitest/vitest.mjs run ${files.join(' ')} --testTimeout=60000 --hookTimeout=60000 --reporter=default --reporter=json --outputFile.json=/tmp/out/vitest.json`;
    const run = spawnSync('bash', [join(ROOT, 'scripts/kernels/run-guest.sh'), g.guest, out, cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
    const report = join(out, 'vitest.json');
    if (run.status === 2 || run.status === 3 || !existsSync(report)) throw new Error(`the guest did not produce a test report (exit ${run.status}); see ${relative(ROOT, join(out, 'serial.log'))} and console.log`);
    const json = JSON.parse(readFileSync(report, 'utf8'));
    for (const file of json.testResults ?? []) {
      for (const t of file.assertionResults ?? []) {
        const status = t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped';
        entry[status]++;
        entry.tests.push({ name: `${relative(ROOT, file.name)} > ${t.fullName}`, status, ...(status === 'failed' ? { message: (t.failureMessages ?? []).join('\n').split('\n')[0] } : {}) });
      }
      // A file that failed to load has no assertions: say so, as a failure.
      if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
        entry.failed++;
        entry.tests.push({ name: relative(ROOT, file.name), status: 'failed', message: String(file.message ?? 'the file did not load').split('\n')[0] });
      }
    }
  } catch (e) {
    entry.error = e.message.split('\n')[0];
  }
  entry.seconds = Math.round((Date.now() - started) / 1000);
  summary.push(entry);
  console.log(entry.error ? `test-kernels: ${g.guest} ${entry.kernel || '(no kernel)'}: ERROR ${entry.error}` : `test-kernels: ${g.guest} ${entry.kernel} ${g.arch}: ${entry.passed} passed, ${entry.failed} failed, ${entry.skipped} skipped (${entry.seconds} s)`);
  for (const t of entry.tests.filter((x) => x.status === 'failed')) console.log(`  failed: ${t.name}: ${t.message ?? ''}`);
}
mkdirSync(CACHE, { recursive: true });
writeFileSync(join(CACHE, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(`test-kernels: wrote ${relative(ROOT, join(CACHE, 'summary.json'))}`);
process.exit(summary.some((e) => e.error || e.failed) ? 1 : 0);
