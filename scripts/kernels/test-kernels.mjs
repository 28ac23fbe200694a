#!/usr/bin/env node
// `make test-kernels`: boots each QEMU guest (scripts/kernels/run-guest.sh), runs the BPF
// integration suite inside it against that kernel, and writes .cache/kernels/summary.json —
// one entry per guest, {guest, kernel, arch, passed, failed, skipped, tests: [{name, status}]} —
// plus one printed line per guest. A guest that cannot be fetched or booted is an entry with
// `error` saying why, and makes the exit status non-zero; so does a failed test.
//   node scripts/kernels/test-kernels.mjs [guest …]      (default: every guest below)
//   env TEST_KERNELS_FILES="test/bpf/tracepoint.test.ts" narrows the suite;
//   TEST_KERNELS_TESTS="cgo" runs only the tests whose names match (vitest -t);
//   TEST_KERNELS_FILE_TIMEOUT (s, default 3600) bounds each file's run in the guest
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
    // (tests that set their own timeout keep it). One vitest run per file, each under `timeout`:
    // a file that stalls (whole-suite runs have) costs that file, not the rest of the guest.
    // An hour: the Go runtime fidelity matrix alone ran past 30 minutes in the arm64 guest
    // (2026-12-05: cut off at its 14th of 16 cases), and a timeout there reports nothing.
    const perFile = Number(process.env.TEST_KERNELS_FILE_TIMEOUT ?? 3600);
    const list = testFiles(files);
    // Chosen tests within the files (vitest -t, a name pattern): one case of a long matrix.
    const only = process.env.TEST_KERNELS_TESTS ? ` -t '${process.env.TEST_KERNELS_TESTS.replaceAll("'", "'\\''")}'` : '';
    const cmd = [
      'n=0',
      `for f in ${list.join(' ')}; do`,
      '  n=$((n+1))',
      `  timeout -k 10 ${perFile} node node_modules/vitest/vitest.mjs run "$f" --testTimeout=60000 --hookTimeout=60000 --reporter=default --reporter=json --outputFile.json=/tmp/out/vitest-$n.json${only}`,
      '  [ -s /tmp/out/vitest-$n.json ] || echo "$f" >> /tmp/out/unfinished',
      'done',
      'true',
    ].join('\n');
    for (const f of readdirSync(out)) if (/^vitest(-\d+)?\.json$|^unfinished$/.test(f)) rmSync(join(out, f));
    const run = spawnSync('bash', [join(ROOT, 'scripts/kernels/run-guest.sh'), g.guest, out, cmd], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GUEST_TIMEOUT: String(process.env.GUEST_TIMEOUT ?? (perFile + 60) * list.length + 120) },
    });
    const reports = readdirSync(out).filter((f) => /^vitest-\d+\.json$/.test(f));
    if (run.status === 2 || !reports.length) throw new Error(`the guest did not produce a test report (exit ${run.status}); see ${relative(ROOT, join(out, 'serial.log'))} and console.log`);
    if (run.status === 3) entry.error = `the guest did not run to its end (GUEST_TIMEOUT); the reports it wrote are counted`;
    for (const report of reports) {
      const json = JSON.parse(readFileSync(join(out, report), 'utf8'));
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
    }
    const unfinished = join(out, 'unfinished');
    for (const f of existsSync(unfinished) ? readFileSync(unfinished, 'utf8').split('\n').filter(Boolean) : []) {
      entry.failed++;
      entry.tests.push({ name: f, status: 'failed', message: `did not finish within ${perFile} s in the guest (stalled, or too slow under TCG): its console output is in console.log` });
    }
  } catch (e) {
    entry.error = e.message.split('\n')[0];
  }
  entry.seconds = Math.round((Date.now() - started) / 1000);
  summary.push(entry);
  console.log(entry.error ? `test-kernels: ${g.guest} ${entry.kernel || '(no kernel)'}: ERROR ${entry.error}` : `test-kernels: ${g.guest} ${entry.kernel} ${g.arch}: ${entry.passed} passed, ${entry.failed} failed, ${entry.skipped} skipped (${entry.seconds} s)`);
  for (const t of entry.tests.filter((x) => x.status === 'failed')) console.log(`  failed: ${t.name}: ${t.message ?? ''}`);
}
/** The test files under the given files and directories, relative to the repository, sorted. */
function testFiles(paths) {
  const out = [];
  const walk = (p) => {
    if (statSync(join(ROOT, p)).isDirectory()) for (const f of readdirSync(join(ROOT, p)).sort()) walk(join(p, f));
    else if (/\.test\.ts$/.test(p)) out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

mkdirSync(CACHE, { recursive: true });
writeFileSync(join(CACHE, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(`test-kernels: wrote ${relative(ROOT, join(CACHE, 'summary.json'))}`);
process.exit(summary.some((e) => e.error || e.failed) ? 1 : 0);
