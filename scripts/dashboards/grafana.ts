/**
 * The small part of Grafana's dashboard model (schemaVersion 39: Grafana 10 and 11) our
 * dashboards use, so each dashboard file reads as its panels and queries, not as layout JSON.
 * Every panel queries the dashboard's `datasource` variable.
 */

export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Query {
  expr: string;
  legend?: string;
  /** Grafana's instant queries (tables, stats of "now"). */
  instant?: boolean;
}

export type PanelKind = 'timeseries' | 'stat' | 'heatmap' | 'table';

export interface PanelSpec {
  kind: PanelKind;
  title: string;
  /** What the panel shows and how to read it; Grafana shows it on the panel's (i) icon. */
  description: string;
  queries: Query[];
  unit?: string;
  /** Grid width out of 24, and height in rows of 30 px. */
  w: number;
  h: number;
  stack?: boolean;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** label_values(<metric selector>, <label>) */
  query: string;
  /**
   * What "All" means. Unset: the values found, as a regex. `.*` also matches series without
   * the label (processes outside pods); `.+` only series that have it.
   */
  allValue?: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  rows: RowSpec[];
}

type Json = Record<string, unknown>;

export function dashboardJson(d: DashboardSpec): Json {
  let id = 1;
  let y = 0;
  const panels: Json[] = [];
  for (const row of d.rows) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      if (x + p.w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelJson(p, id++, { h: p.h, w: p.w, x, y }));
      x += p.w;
      rowHeight = Math.max(rowHeight, p.h);
    }
    y += rowHeight;
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: d.tags,
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        { type: 'datasource', name: 'datasource', label: 'Data source', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
        ...d.variables.map(variableJson),
      ],
    },
    panels,
  };
}

function variableJson(v: VariableSpec): Json {
  return {
    type: 'query',
    name: v.name,
    label: v.label,
    datasource: DATASOURCE,
    definition: v.query,
    query: { query: v.query, refId: `${v.name}-values`, qryType: 1 },
    refresh: 2,
    includeAll: true,
    multi: true,
    ...(v.allValue ? { allValue: v.allValue } : {}),
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    sort: 1,
    hide: 0,
  };
}

function panelJson(p: PanelSpec, id: number, gridPos: Json): Json {
  const targets = p.queries.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: DATASOURCE,
    expr: q.expr,
    legendFormat: q.legend ?? '__auto',
    range: !(q.instant ?? false),
    instant: q.instant ?? false,
    ...(p.kind === 'heatmap' ? { format: 'heatmap' } : p.kind === 'table' ? { format: 'table' } : {}),
  }));
  const unit = p.unit ?? 'short';
  const base = { id, type: p.kind, title: p.title, description: p.description, datasource: DATASOURCE, gridPos, targets };
  switch (p.kind) {
    case 'timeseries':
      return {
        ...base,
        fieldConfig: {
          defaults: { unit, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: p.stack ? 30 : 10, showPoints: 'never', spanNulls: true, stacking: { mode: p.stack ? 'normal' : 'none', group: 'A' } } },
          overrides: [],
        },
        options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'], showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
      };
    case 'stat':
      return {
        ...base,
        fieldConfig: { defaults: { unit, color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] } }, overrides: [] },
        options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto', justifyMode: 'auto', orientation: 'auto' },
      };
    case 'heatmap':
      return {
        ...base,
        fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' } } }, overrides: [] },
        options: {
          calculate: false,
          cellGap: 1,
          color: { mode: 'scheme', scheme: 'Oranges', steps: 64, exponent: 0.5, fill: 'dark-orange', scale: 'exponential', reverse: false },
          yAxis: { axisPlacement: 'left', unit, reverse: false },
          rowsFrame: { layout: 'auto' },
          tooltip: { mode: 'single', yHistogram: true, showColorScale: false },
          legend: { show: true },
          exemplars: { color: 'rgba(255,0,255,0.7)' },
          filterValues: { le: 1e-9 },
        },
      };
    case 'table':
      return {
        ...base,
        fieldConfig: { defaults: { unit, custom: { align: 'auto', cellOptions: { type: 'auto' } } }, overrides: [] },
        options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
        transformations: [{ id: 'merge', options: {} }, { id: 'organize', options: { excludeByName: { Time: true, __name__: true } } }],
      };
  }
}

/**
 * The dashboard's panels as the Markdown docs/dashboards.md shows between its
 * `<!-- panels:NAME -->` markers: a dashboard cannot be pictured here without Grafana, so
 * the docs describe each panel, in the words Grafana shows on it.
 */
export function panelsMarkdown(d: DashboardSpec): string {
  const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const matchers = d.variables.map((v) => `${v.name}=~"$${v.name}"`).join(', ');
  const out = [`Variables: ${d.variables.map((v) => `\`${v.name}\``).join(', ')} (and \`datasource\`); \`…\` in a query's selector stands for their matchers, \`${matchers}\`.`, ''];
  for (const row of d.rows) {
    out.push(`**${row.title}**`, '', '| Panel | What it shows | Queries |', '|---|---|---|');
    for (const p of row.panels) out.push(`| ${cell(p.title)} (${p.kind}) | ${cell(p.description)} | ${p.queries.map((q) => `\`${cell(q.expr.replaceAll(matchers, '…'))}\``).join('<br>')} |`);
    out.push('');
  }
  return out.join('\n');
}
