// Validates the output of `kustomize build deploy/overlays/X`:
//   node deploy/check/validate-k8s.mjs BUILT.yaml --replicas N
// 1. every built-in kind against the Kubernetes OpenAPI schemas
//    (kubernetes-models: types, required fields, formats; it does not flag
//    unknown fields);
// 2. the Prometheus Operator kinds (ServiceMonitor, PrometheusRule), which
//    kubernetes-models does not know, structurally;
// 3. the deployment's own contract: no Secret in the manifests, env only from
//    the orchestrator-secrets Secret (every key documented in
//    deploy/README.md), hardened pods, probes, a grace period longer than
//    workers.shutdown_timeout, references that resolve, the dashboard
//    ConfigMap for the Grafana sidecar, the NetworkPolicy's ports.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const file = args[0];
const replicasArg = args.indexOf('--replicas');
const wantReplicas = replicasArg >= 0 ? Number(args[replicasArg + 1]) : undefined;
if (!file) {
  console.error('usage: validate-k8s.mjs BUILT.yaml [--replicas N]');
  process.exit(2);
}

const SECRET = 'orchestrator-secrets';
const CRD_KINDS = new Set(['monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule']);
const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter(Boolean);
const errors = [];
const err = (doc, msg) => errors.push(`${doc.kind}/${doc.metadata?.name}: ${msg}`);
const readme = fs.readFileSync(path.join(deploy, 'README.md'), 'utf8');

// 1. OpenAPI validation of built-in kinds.
for (const doc of docs) {
  const id = `${doc.apiVersion}/${doc.kind}`;
  if (CRD_KINDS.has(id)) continue;
  const mod = doc.apiVersion.includes('/') ? doc.apiVersion : `v1`;
  let Kind;
  try {
    Kind = (await import(`kubernetes-models/${mod}`))[doc.kind];
  } catch {
    Kind = undefined;
  }
  if (!Kind) {
    err(doc, `unknown kind ${id} (not in kubernetes-models and not an allowed CRD)`);
    continue;
  }
  try {
    new Kind(doc).validate();
  } catch (e) {
    err(doc, `schema: ${e.message.split('\n').slice(0, 8).join(' | ')}`);
  }
}

const byKind = (k) => docs.filter((d) => d.kind === k);
const labelsMatch = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

// 2. CRDs, structurally.
for (const sm of byKind('ServiceMonitor')) {
  const svcs = byKind('Service').filter(
    (s) => s.metadata.namespace === sm.metadata.namespace && labelsMatch(sm.spec?.selector?.matchLabels, s.metadata.labels),
  );
  if (!sm.spec?.selector?.matchLabels) err(sm, 'spec.selector.matchLabels missing');
  if (svcs.length === 0) err(sm, 'selects no Service of the same namespace');
  const eps = sm.spec?.endpoints;
  if (!Array.isArray(eps) || eps.length === 0) err(sm, 'spec.endpoints empty');
  for (const ep of eps ?? []) {
    if (!svcs.every((s) => s.spec.ports.some((p) => p.name === ep.port))) err(sm, `endpoint port ${ep.port} is not a named port of the Service`);
    if (ep.path !== '/metrics') err(sm, `endpoint path ${ep.path}, want /metrics`);
    for (const k of Object.keys(ep)) {
      if (!['port', 'path', 'interval', 'scrapeTimeout', 'scheme', 'honorLabels', 'relabelings', 'metricRelabelings'].includes(k)) err(sm, `endpoint: unexpected field ${k}`);
    }
  }
}
const prs = byKind('PrometheusRule');
if (prs.length !== 1) errors.push(`want exactly one PrometheusRule, got ${prs.length}`);
for (const pr of prs) {
  const groups = pr.spec?.groups;
  if (!Array.isArray(groups) || groups.length === 0) err(pr, 'spec.groups empty');
  for (const g of groups ?? []) {
    if (typeof g.name !== 'string' || !Array.isArray(g.rules)) err(pr, `group ${g.name}: needs name and rules`);
    for (const r of g.rules ?? []) {
      const name = r.alert ?? r.record;
      if (typeof name !== 'string') err(pr, 'a rule has neither alert nor record');
      if (typeof r.expr !== 'string' || r.expr.trim() === '') err(pr, `${name}: expr must be a non-empty string`);
      if (r.alert) {
        if (!['critical', 'warning', 'info'].includes(r.labels?.severity)) err(pr, `${name}: labels.severity must be critical, warning or info`);
        for (const a of ['summary', 'description', 'runbook_url']) if (!r.annotations?.[a]) err(pr, `${name}: annotation ${a} missing`);
        if (r.for !== undefined && !/^(\d+(ms|s|m|h|d|w|y))+$/.test(r.for)) err(pr, `${name}: bad for ${r.for}`);
      }
      for (const k of Object.keys(r)) {
        if (!['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k)) err(pr, `${name}: unexpected field ${k}`);
      }
    }
  }
}

// 3. The deployment's contract.
if (byKind('Secret').length) errors.push('the manifests must not contain a Secret (it is created by hand, see deploy/README.md)');
const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c]));
const parseDuration = (s) => {
  let total = 0;
  for (const [, n, u] of String(s).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[u];
  return total;
};
const secretKeys = new Set();
const workloads = [...byKind('Deployment'), ...byKind('Job')];
if (byKind('Deployment').length !== 1) errors.push('want exactly one Deployment');
if (byKind('Job').length !== 1) errors.push('want exactly one Job (the migration)');
for (const w of workloads) {
  const pod = w.spec.template.spec;
  const psc = pod.securityContext ?? {};
  if (pod.automountServiceAccountToken !== false) err(w, 'automountServiceAccountToken must be false');
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) err(w, `${where}: runAsNonRoot`);
    if (sc.readOnlyRootFilesystem !== true) err(w, `${where}: readOnlyRootFilesystem`);
    if (sc.allowPrivilegeEscalation !== false) err(w, `${where}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) err(w, `${where}: capabilities must drop ALL`);
    if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault') err(w, `${where}: seccompProfile RuntimeDefault`);
    for (const r of ['requests', 'limits']) for (const k of ['cpu', 'memory']) if (!c.resources?.[r]?.[k]) err(w, `${where}: resources.${r}.${k}`);
    if (c.image === 'orchestrator' || !/[:@]/.test(c.image.split('/').pop())) err(w, `${where}: image ${c.image} not set by the overlay`);
    if (/:latest$/.test(c.image)) err(w, `${where}: image tag latest`);
    if (c.envFrom?.length) err(w, `${where}: envFrom is not allowed; name each key`);
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (e.value !== undefined || !ref) err(w, `${where}: env ${e.name} must come from a secretKeyRef`);
      else if (ref.name !== SECRET) err(w, `${where}: env ${e.name} from Secret ${ref.name}, want ${SECRET}`);
      else secretKeys.add(ref.key);
    }
    if (!(c.env ?? []).some((e) => e.name === 'DATABASE_URL')) err(w, `${where}: DATABASE_URL missing`);
  }
  for (const v of pod.volumes ?? []) {
    if (v.configMap && !configMaps.has(v.configMap.name)) err(w, `volume ${v.name}: ConfigMap ${v.configMap.name} is not in the manifests`);
  }
}
for (const key of secretKeys) {
  if (!readme.includes(key)) errors.push(`Secret key ${key} is not documented in deploy/README.md`);
}

const dep = byKind('Deployment')[0];
if (dep) {
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  if (wantReplicas !== undefined && dep.spec.replicas !== wantReplicas) err(dep, `replicas ${dep.spec.replicas}, want ${wantReplicas}`);
  if (c.livenessProbe?.httpGet?.path !== '/healthz') err(dep, 'livenessProbe must GET /healthz');
  if (c.readinessProbe?.httpGet?.path !== '/readyz') err(dep, 'readinessProbe must GET /readyz');
  const cfgVol = pod.volumes?.find((v) => v.configMap);
  const cfg = cfgVol && configMaps.get(cfgVol.configMap.name);
  const cfgYaml = cfg && yaml.load(cfg.data?.['config.yaml'] ?? '');
  if (!cfgYaml) err(dep, 'config ConfigMap with config.yaml not found');
  // Default 25s when the key is absent (internal/config). River stops for
  // shutdown_timeout, then cancels running jobs for up to 5s more.
  const shutdown = parseDuration(cfgYaml?.workers?.shutdown_timeout ?? '25s');
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!(grace > shutdown + 5)) err(dep, `terminationGracePeriodSeconds ${grace} must exceed workers.shutdown_timeout ${shutdown}s + 5s`);
  const svcs = byKind('Service').filter((s) => labelsMatch(s.spec.selector, dep.spec.template.metadata.labels));
  if (svcs.length === 0) err(dep, 'no Service selects its pods');
  if (!byKind('PodDisruptionBudget').some((p) => labelsMatch(p.spec.selector.matchLabels, dep.spec.template.metadata.labels))) err(dep, 'no PodDisruptionBudget');
  const nps = byKind('NetworkPolicy').filter((n) => labelsMatch(n.spec.podSelector.matchLabels, dep.spec.template.metadata.labels));
  if (nps.length === 0) err(dep, 'no NetworkPolicy selects its pods');
  for (const np of nps) {
    const types = np.spec.policyTypes ?? [];
    if (!types.includes('Ingress') || !types.includes('Egress')) err(np, 'policyTypes must be Ingress and Egress');
    const inPorts = (np.spec.ingress ?? []).flatMap((r) => (r.ports ?? [{ port: 'ANY' }]).map((p) => p.port));
    if (inPorts.some((p) => p !== 8080)) err(np, `ingress ports ${inPorts}, want only 8080`);
    if ((np.spec.ingress ?? []).some((r) => !r.from?.length)) err(np, 'an ingress rule allows every source');
    const outPorts = new Set((np.spec.egress ?? []).flatMap((r) => (r.ports ?? [{ port: 'ANY' }]).map((p) => p.port)));
    for (const p of outPorts) if (![53, 443, 5432].includes(p)) err(np, `egress port ${p} not allowed`);
    for (const p of [53, 443, 5432]) if (!outPorts.has(p)) err(np, `egress port ${p} missing`);
  }
}

const dashboards = byKind('ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');
if (dashboards.length !== 1) errors.push(`want one ConfigMap labelled grafana_dashboard: "1", got ${dashboards.length}`);
for (const d of dashboards) {
  for (const [k, v] of Object.entries(d.data ?? {})) {
    if (!k.endsWith('.json')) err(d, `key ${k} should end in .json`);
    try {
      const j = JSON.parse(v);
      if (!j.uid || !Array.isArray(j.panels)) err(d, `${k}: not a dashboard (uid, panels)`);
    } catch (e) {
      err(d, `${k}: invalid JSON: ${e.message}`);
    }
  }
}

if (errors.length) {
  for (const e of errors) console.error(`${file}: ${e}`);
  process.exit(1);
}
console.log(`${path.basename(file)}: ${docs.length} objects valid (${docs.map((d) => d.kind).join(', ')})`);
