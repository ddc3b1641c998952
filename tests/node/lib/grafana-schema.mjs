// Grafana dashboards checked against Grafana's published dashboard schema.
//
// npm @grafana/schema ships the dashboard kind as TypeScript types generated from
// Grafana's CUE schema (`Dashboard` in dist/types), not as a JSON schema. So a dashboard
// is checked the way a TypeScript author would: its JSON, verbatim, becomes an object
// literal declared as a `Dashboard`, and the TypeScript compiler type-checks it — wrong
// types, missing required properties and (object literals being "fresh") unknown
// properties are errors. JSON has no enums, so `Json<T>` turns the schema's string
// enums into the union of their values; everything else is the schema unchanged.

import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

const require = createRequire(import.meta.url);
const HERE = path.dirname(new URL(import.meta.url).pathname);

const PRELUDE = `import type { Dashboard } from '@grafana/schema';
type Json<T> = T extends string ? \`\${T}\`
  : T extends number | boolean | null | undefined ? T
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
export const dashboard: Json<Dashboard> = `;
const PRELUDE_LINES = PRELUDE.split('\n').length - 1;

/**
 * Type-checks each dashboard (name → JSON text) as a Grafana `Dashboard`, all in one
 * compiler run. Returns name → list of errors as "line N: message" (line in the JSON).
 */
export function checkDashboards(dashboards) {
  // Virtual files: they exist only in the compiler host below, never on disk.
  const dir = path.join(HERE, '..', 'virtual-dashboards');
  const files = new Map();
  for (const [name, json] of dashboards) {
    JSON.parse(json); // plain JSON first: a syntax error is reported as such
    files.set(path.join(dir, `${files.size}.ts`), { name, text: `${PRELUDE}${json};\n` });
  }
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.text ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) =>
    files.has(f)
      ? ts.createSourceFile(f, files.get(f).text, lang)
      : getSourceFile.call(host, f, lang, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const errors = new Map([...files.values()].map(({ name }) => [name, []]));
  const all = [...program.getSemanticDiagnostics(), ...program.getSyntacticDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const d of all) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const file = d.file && files.get(d.file.fileName);
    if (!file) throw new Error(`TypeScript error outside the dashboards: ${message}`);
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    errors.get(file.name).push(`line ${line + 1 - PRELUDE_LINES}: ${message}`);
  }
  return errors;
}

export const grafanaSchemaVersion = require('@grafana/schema/package.json').version;
