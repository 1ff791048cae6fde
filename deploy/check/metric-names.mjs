// Every orchestrator_* metric the dashboard and the alert rules query must be
// in the contract (docs/metrics.md); histograms may be queried through their
// _bucket, _sum and _count series.
//   node deploy/check/metric-names.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const doc = fs.readFileSync(path.join(root, 'docs/metrics.md'), 'utf8');
const contract = new Map();
for (const m of doc.matchAll(/^\| `(orchestrator_[a-z0-9_]+)` \| (counter|gauge|histogram|summary) \|/gm)) contract.set(m[1], m[2]);
if (contract.size === 0) {
  console.error('docs/metrics.md: no metric table rows found');
  process.exit(1);
}

const exprs = [];
const dash = JSON.parse(fs.readFileSync(path.join(root, 'deploy/grafana/orchestrator-dashboard.json'), 'utf8'));
const walk = (panels) => {
  for (const p of panels ?? []) {
    for (const t of p.targets ?? []) if (t.expr) exprs.push([`dashboard panel "${p.title}"`, t.expr]);
    walk(p.panels);
  }
};
walk(dash.panels);
for (const v of dash.templating?.list ?? []) if (typeof v.query === 'string') exprs.push([`dashboard variable ${v.name}`, v.query]);
const rules = yaml.load(fs.readFileSync(path.join(root, 'deploy/prometheus/orchestrator-rules.yaml'), 'utf8'));
for (const g of rules.groups) for (const r of g.rules) exprs.push([`rule ${r.alert ?? r.record}`, r.expr]);

const bad = [];
const used = new Set();
for (const [where, expr] of exprs) {
  for (const [name] of expr.matchAll(/\borchestrator_[a-z0-9_]+/g)) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const ok = contract.has(name) || (base !== name && ['histogram', 'summary'].includes(contract.get(base)));
    if (!ok) bad.push(`${where}: ${name} is not in docs/metrics.md`);
    used.add(contract.has(name) ? name : base);
  }
}
if (bad.length) {
  for (const b of bad) console.error(b);
  process.exit(1);
}
const unused = [...contract.keys()].filter((n) => !used.has(n));
console.log(`metric names: ${exprs.length} expressions use ${used.size} of ${contract.size} contract metrics${unused.length ? ` (not queried: ${unused.join(', ')})` : ''}`);
