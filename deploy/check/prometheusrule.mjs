// Keeps deploy/prometheus/prometheusrule.yaml (PrometheusRule for the
// Prometheus Operator) equal to deploy/prometheus/orchestrator-rules.yaml
// (the plain rule file promtool checks and tests).
//
//   node deploy/check/prometheusrule.mjs --write       regenerate it
//   node deploy/check/prometheusrule.mjs [BUILT.yaml]  check it: exit 1 when
//       the PrometheusRule (in the file, and in each kustomize build given)
//       does not hold exactly the groups of the rule file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import yaml from 'js-yaml';

const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rulesPath = path.join(deploy, 'prometheus/orchestrator-rules.yaml');
const crPath = path.join(deploy, 'prometheus/prometheusrule.yaml');

const rules = yaml.load(fs.readFileSync(rulesPath, 'utf8'));

function generate() {
  const cr = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'orchestrator',
      labels: { 'app.kubernetes.io/name': 'orchestrator' },
    },
    spec: { groups: rules.groups },
  };
  const header = [
    '# GENERATED from orchestrator-rules.yaml by `node deploy/check/prometheusrule.mjs --write`.',
    '# Do not edit: change orchestrator-rules.yaml and regenerate (scripts/check-deploy.sh',
    '# fails when the two differ). If your Prometheus selects rules by label',
    '# (ruleSelector, e.g. release: kube-prometheus-stack), add it in the overlay.',
    '',
  ].join('\n');
  return header + yaml.dump(cr, { lineWidth: -1, noRefs: true, quotingType: '"' });
}

const args = process.argv.slice(2);
if (args[0] === '--write') {
  fs.writeFileSync(crPath, generate());
  console.log(`wrote ${path.relative(process.cwd(), crPath)}`);
  process.exit(0);
}

let failed = false;
function compare(where, doc) {
  const want = rules.groups;
  const got = doc?.spec?.groups;
  if (!isDeepStrictEqual(got, want)) {
    failed = true;
    const names = (gs) => (gs ?? []).flatMap((g) => (g.rules ?? []).map((r) => r.alert ?? r.record)).join(', ');
    console.error(`${where}: PrometheusRule ${doc?.metadata?.name} differs from orchestrator-rules.yaml`);
    console.error(`  rule file: ${names(want)}`);
    console.error(`  PrometheusRule: ${names(got)}`);
  }
}

const own = yaml.load(fs.readFileSync(crPath, 'utf8'));
compare(path.relative(process.cwd(), crPath), own);
if (fs.readFileSync(crPath, 'utf8') !== generate()) {
  failed = true;
  console.error(`${path.relative(process.cwd(), crPath)}: not as generated`);
}
for (const built of args) {
  const docs = yaml.loadAll(fs.readFileSync(built, 'utf8')).filter((d) => d?.kind === 'PrometheusRule');
  if (docs.length !== 1) {
    failed = true;
    console.error(`${built}: want exactly one PrometheusRule, got ${docs.length}`);
  }
  for (const d of docs) compare(built, d);
}
if (failed) {
  console.error('regenerate with: node deploy/check/prometheusrule.mjs --write');
  process.exit(1);
}
console.log(`PrometheusRule in sync with orchestrator-rules.yaml (${rules.groups.flatMap((g) => g.rules).length} rules)`);
