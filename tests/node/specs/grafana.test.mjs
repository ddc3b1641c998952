// The bundled Grafana dashboards (dashboards/*.json) against Grafana's published
// dashboard schema (@grafana/schema, type-checked by the TypeScript compiler: see
// lib/grafana-schema.mjs), and the provisioning files (grafana/provisioning/) against
// what Grafana requires of them. Mutated dashboards and provisioning files show that the
// checks reject what they should.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { checkDashboards, grafanaSchemaVersion } from '../lib/grafana-schema.mjs';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const DASHBOARDS = path.join(ROOT, 'dashboards');

const bundled = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [`dashboards/${f}`, readFileSync(path.join(DASHBOARDS, f), 'utf8')]);

// Mutations of a real dashboard, each a way to break the schema.
const fleet = JSON.parse(readFileSync(path.join(DASHBOARDS, 'streamswarm-fleet.json'), 'utf8'));
const mutate = (change) => {
  const d = structuredClone(fleet);
  change(d);
  return JSON.stringify(d, null, 2);
};
const mutants = {
  'panels not an array': [mutate((d) => (d.panels = { first: d.panels[0] })), /'"first"' does not exist in type '\(\{ fieldConfig/],
  'a gridPos with an unknown property': [mutate((d) => (d.panels[0].gridPos.z = 1)), /'"z"' does not exist/],
  'a gridPos that is a string': [mutate((d) => (d.panels[0].gridPos = 'full')), /Type 'string' is not assignable/],
  'a panel without its type': [mutate((d) => delete d.panels[0].type), /type/],
  'a threshold mode that is not one of the enum': [
    mutate((d) => (d.panels[0].fieldConfig.defaults.thresholds = { mode: 'relative', steps: [] })),
    /"relative"' is not assignable to type '"absolute" \| "percentage"'/,
  ],
  'an unknown top-level property': [mutate((d) => (d.panelz = [])), /'"panelz"' does not exist/],
};

// One compiler run for all of them: the bundled dashboards and the mutants.
const errors = checkDashboards([...bundled, ...Object.entries(mutants).map(([n, [json]]) => [n, json])]);

describe(`dashboards against @grafana/schema ${grafanaSchemaVersion}`, () => {
  test('there are dashboards to check', () => {
    assert.ok(bundled.length >= 5, `${bundled.length} dashboards`);
  });
  for (const [name] of bundled) {
    test(name, () => {
      assert.deepEqual(errors.get(name), [], `${name} does not match Grafana's Dashboard schema`);
    });
  }
});

describe('the dashboard check rejects broken dashboards', () => {
  for (const [name, [, expected]] of Object.entries(mutants)) {
    test(name, () => {
      const found = errors.get(name);
      assert.ok(found.length > 0, `${name}: accepted`);
      assert.match(found.join('\n'), expected);
    });
  }
});

// ---------------------------------------------------------------------------------------
// Provisioning: what Grafana reads at start (docs: administration/provisioning).

/** What Grafana requires of a provisioning file, as a list of problems. */
function provisioningProblems(kind, doc) {
  const problems = [];
  if (doc === null || typeof doc !== 'object') return ['not a YAML mapping'];
  if (doc.apiVersion !== 1) problems.push(`apiVersion is ${JSON.stringify(doc.apiVersion)}, not 1`);
  const list = kind === 'datasources' ? doc.datasources : doc.providers;
  if (!Array.isArray(list) || list.length === 0) return [...problems, `${kind === 'datasources' ? 'datasources' : 'providers'} is not a non-empty list`];
  list.forEach((item, i) => {
    const str = (key) => typeof item?.[key] === 'string' && item[key].trim() !== '';
    if (kind === 'datasources') {
      for (const key of ['name', 'type', 'access', 'url']) {
        if (!str(key)) problems.push(`datasources[${i}].${key} missing`);
      }
      if (str('access') && !['proxy', 'direct'].includes(item.access)) problems.push(`datasources[${i}].access is ${item.access}`);
    } else {
      if (!str('name')) problems.push(`providers[${i}].name missing`);
      if (item?.type !== undefined && item.type !== 'file') problems.push(`providers[${i}].type is ${item.type}, not file`);
      if (typeof item?.options?.path !== 'string' || !item.options.path.startsWith('/')) {
        problems.push(`providers[${i}].options.path missing or not absolute`);
      }
    }
  });
  return problems;
}

function parseYaml(text) {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
  return doc.toJS();
}

// Two trees: InfluxDB (provisioning/) and a server's embedded store (provisioning-embedded/).
for (const tree of ['provisioning', 'provisioning-embedded']) {
  const root = path.join(ROOT, 'grafana', tree);
  describe(`Grafana provisioning files (grafana/${tree})`, () => {
    for (const kind of ['datasources', 'dashboards']) {
      const dir = path.join(root, kind);
      const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
      test(`grafana/${tree}/${kind} has files`, () => assert.ok(files.length > 0));
      for (const f of files) {
        test(`grafana/${tree}/${kind}/${f}`, () => {
          assert.deepEqual(provisioningProblems(kind, parseYaml(readFileSync(path.join(dir, f), 'utf8'))), []);
        });
      }
    }

    test('the datasource is an InfluxDB one (the dashboards query InfluxQL)', () => {
      const ds = parseYaml(readFileSync(path.join(root, 'datasources', 'streamswarm.yaml'), 'utf8'));
      assert.equal(ds.datasources[0].type, 'influxdb');
    });
  });
}

describe('the provisioning check rejects broken files', () => {
  test('YAML that does not parse', () => {
    assert.throws(() => parseYaml('apiVersion: 1\ndatasources:\n  - name: a\n   type: influxdb\n'));
  });
  test('a datasource without url and access', () => {
    const problems = provisioningProblems('datasources', parseYaml('apiVersion: 1\ndatasources:\n  - name: a\n    type: influxdb\n'));
    assert.deepEqual(problems, ['datasources[0].access missing', 'datasources[0].url missing']);
  });
  test('a provider without options.path, and a wrong apiVersion', () => {
    const problems = provisioningProblems('dashboards', parseYaml('apiVersion: 2\nproviders:\n  - name: a\n    type: file\n'));
    assert.deepEqual(problems, ['apiVersion is 2, not 1', 'providers[0].options.path missing or not absolute']);
  });
});
