// Cost per hit of a Go entry uprobe by where it sits: on the prologue's conditional branch
// (amd64 jbe / arm64 b.ls, emulated or simulated by the kernel), on the first instruction
// (stepped out of line), and no probe. Runs anywhere, the arm64 QEMU guest included:
//   node --import tsx bench/trap-cost.ts [calls]
// (in a guest: scripts/kernels/run-guest.sh bookworm-arm64 <out> "node --import tsx bench/trap-cost.ts").
// Prints a Markdown table; under TCG the absolute figures are emulation's, the ratio is the point.
import { uprobeProbe } from '../probes/uprobe.js';
import { waitFor } from '../test/helpers/cli.js';
import { runProbe } from '../test/helpers/probe-harness.js';
import { pathToFileURL } from 'node:url';
import { buildGo, startWorkload } from '../test/helpers/workloads.js';

async function run(bin: string, calls: number, point?: { at_entry: boolean }): Promise<number> {
  const w = await startWorkload(bin, calls);
  const p = point ? runProbe(uprobeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms', points: [{ name: 'tc', symbol: 'main.work', ...point }] }) : undefined;
  try {
    if (p) await p.tracking(w.pid);
    const start = process.hrtime.bigint();
    await w.go();
    const ns = Number(process.hrtime.bigint() - start);
    // An entry probe also fires on a morestack re-entry: at least `calls` hits.
    if (p) await waitFor(() => (p.value('tc_total', w.pid) ?? 0) >= calls, 20_000, `${calls} hits`);
    return ns / calls;
  } finally {
    p?.stop();
    await w.finish();
  }
}

export async function trapCost(calls: number): Promise<string> {
  const bin = buildGo('plain');
  const rows: [string, number][] = [];
  for (let round = 0; round < 3; round++) {
    rows.push(['no probe', await run(bin, calls)]);
    rows.push(['on the branch (emulated/simulated)', await run(bin, calls, { at_entry: false })]);
    rows.push(['on the first instruction (stepped)', await run(bin, calls, { at_entry: true })]);
  }
  const best = (label: string) => Math.min(...rows.filter(([l]) => l === label).map(([, v]) => v));
  const none = best('no probe');
  const lines = [`| ${process.arch}, ${calls} calls of main.work, best of 3 | ns per call | probe cost per hit |`, '|---|---|---|'];
  for (const label of ['no probe', 'on the branch (emulated/simulated)', 'on the first instruction (stepped)']) {
    const v = best(label);
    lines.push(`| ${label} | ${v.toFixed(0)} | ${label === 'no probe' ? '' : `${((v - none) / 1000).toFixed(2)} µs`} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  console.log(await trapCost(Number(process.argv[2] ?? 20000)));
  process.exit(0);
}
