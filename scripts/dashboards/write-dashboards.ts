/**
 * Writes deploy/grafana/*.json from the dashboard specs beside this file; `--check` only
 * says whether the committed JSON is what the specs give (the test suite runs it).
 *   npm run -s gen:dashboards
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentDashboard } from './agent-dashboard.js';
import { dashboardJson } from './grafana.js';
import { goRuntimeDashboard } from './go-runtime-dashboard.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), '../../deploy/grafana');
const files = { 'go-runtime.json': goRuntimeDashboard, 'probeflow-agent.json': agentDashboard };
const check = process.argv.includes('--check');
let stale = 0;
for (const [name, spec] of Object.entries(files)) {
  const path = join(dir, name);
  const text = JSON.stringify(dashboardJson(spec), null, 2) + '\n';
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
