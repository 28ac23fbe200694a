/**
 * Writes deploy/grafana/*.json from the dashboard specs beside this file, and each panel's
 * description into docs/dashboards.md; `--check` only says whether the committed files are
 * what the specs give (the test suite runs it).
 *   npm run -s gen:dashboards
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentDashboard } from './agent-dashboard.js';
import { dashboardJson, panelsMarkdown } from './grafana.js';
import { goRuntimeDashboard } from './go-runtime-dashboard.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const files = { 'go-runtime.json': goRuntimeDashboard, 'probeflow-agent.json': agentDashboard };
const docsPath = join(root, 'docs/dashboards.md');
const check = process.argv.includes('--check');

const outputs = new Map(Object.entries(files).map(([name, spec]) => [join(root, 'deploy/grafana', name), JSON.stringify(dashboardJson(spec), null, 2) + '\n']));
let docs = readFileSync(docsPath, 'utf8');
for (const [name, spec] of Object.entries(files)) {
  const marker = `<!-- panels:${name.replace(/\.json$/, '')} -->`;
  const start = docs.indexOf(marker);
  const end = docs.indexOf('<!-- /panels -->', start);
  if (start < 0 || end < 0) throw new Error(`${docsPath} needs ${marker} … <!-- /panels --> for ${name}`);
  docs = `${docs.slice(0, start + marker.length)}\n${panelsMarkdown(spec)}\n${docs.slice(end)}`;
}
outputs.set(docsPath, docs);

let stale = 0;
for (const [path, text] of outputs) {
  if (!check) {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
    continue;
  }
  let committed = '';
  try {
    committed = readFileSync(path, 'utf8');
  } catch {}
  if (committed !== text) {
    console.error(`${path} is not what scripts/dashboards gives; run npm run -s gen:dashboards`);
    stale++;
  }
}
process.exit(stale ? 1 : 0);
