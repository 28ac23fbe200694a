#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/engine/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('probeflow: dist/ is missing: run `npm run build` (or `npm ci`) in the probeflow directory first\n');
  process.exit(1);
}
const { cli } = await import(entry.href);
await cli(process.argv.slice(2));
// Timers of finished probes may still be pending; the exit code is decided, so leave now.
process.exit(process.exitCode ?? 0);
