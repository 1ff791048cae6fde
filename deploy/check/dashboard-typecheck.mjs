// Type-checks the Grafana dashboard JSON against Grafana's published schema
// (@grafana/schema, pinned in package.json) with the TypeScript compiler:
// wrong types, bad enum values and unknown keys fail (panel `options` and
// query targets are free-form in the schema).
//   node deploy/check/dashboard-typecheck.mjs [DASHBOARD.json]
//
// The JSON is wrapped as `(<json>) satisfies JSONDashboard`, where
// JSONDashboard is the schema's Dashboard with every TypeScript string enum
// (ThresholdsMode, FieldColorModeId, MappingType…) widened to its literal
// values: Grafana writes "absolute", which the enum type itself refuses.
// Numeric enums accept their literal values as they are; nothing else is
// relaxed. The schema version is checked against the package's own default.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] ?? path.join(here, '../grafana/orchestrator-dashboard.json'));
const json = fs.readFileSync(file, 'utf8');
const dash = JSON.parse(json);

// The schemaVersion a Dashboard made by this @grafana/schema has.
const schemaSrc = fs.readFileSync(path.join(here, 'node_modules/@grafana/schema/dist/esm/raw/dashboard/x/types.gen.mjs'), 'utf8');
const current = Number(/schemaVersion:\s*(\d+)/.exec(schemaSrc)?.[1]);
if (dash.schemaVersion !== current) {
  console.error(`${file}: schemaVersion ${dash.schemaVersion}, want ${current} (current for the pinned @grafana/schema)`);
  process.exit(1);
}

const build = path.join(here, '.build');
fs.mkdirSync(build, { recursive: true });
const ts = path.join(build, 'dashboard.ts');
fs.writeFileSync(
  ts,
  `import type { Dashboard } from '@grafana/schema';
type JSONish<T> = T extends string
  ? T | \`\${T}\`
  : T extends readonly (infer U)[]
    ? JSONish<U>[]
    : T extends object
      ? { [K in keyof T]: JSONish<T[K]> }
      : T;
type JSONDashboard = JSONish<Dashboard>;
export const dashboard = (${json.trim()}) satisfies JSONDashboard;
`,
);
try {
  execFileSync(
    path.join(here, 'node_modules/.bin/tsc'),
    ['--noEmit', '--strict', '--skipLibCheck', '--moduleResolution', 'bundler', '--module', 'esnext', '--target', 'es2022', ts],
    { stdio: 'inherit', cwd: here },
  );
} catch {
  console.error(`${file}: does not satisfy @grafana/schema's Dashboard (line numbers are in ${path.relative(process.cwd(), ts)}, JSON line + 9)`);
  process.exit(1);
}
console.log(`${path.basename(file)}: satisfies @grafana/schema Dashboard (schemaVersion ${current}, ${dash.panels.length} panels)`);
