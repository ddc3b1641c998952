// InfluxData's Flux language server (npm @influxdata/flux-lsp-browser) loaded in Node.
//
// The package is built for bundlers: its glue module `flux-lsp-browser_bg.js` starts
// with `import * as wasm from './flux-lsp-browser_bg.wasm'`, which Node cannot import.
// So we load the glue's source with that one import replaced by a setter, instantiate
// the .wasm ourselves with the glue module as its import object (the wasm imports
// every `__wbindgen_*`/`__wbg_*` function from './flux-lsp-browser_bg.js'), and hand
// the instance's exports to the glue. The package version is pinned in
// package-lock.json; if a new version changes the glue, the rewrite below fails loudly.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const PKG = path.dirname(require.resolve('@influxdata/flux-lsp-browser/package.json'));

const WASM_IMPORT = "import * as wasm from './flux-lsp-browser_bg.wasm';";
const MEMORY_VIEWS =
  'cachedInt32Memory0 = new Int32Array(wasm.memory.buffer);\n' +
  'cachedUint8Memory0 = new Uint8Array(wasm.memory.buffer);';

let loaded;

/** The glue module's exports (`is_valid_flux`, `Flux`, `parse`, …), ready to use. */
export function fluxLsp() {
  loaded ??= load();
  return loaded;
}

async function load() {
  const glueSource = await readFile(path.join(PKG, 'flux-lsp-browser_bg.js'), 'utf8');
  for (const expected of [WASM_IMPORT, MEMORY_VIEWS]) {
    if (!glueSource.includes(expected)) {
      throw new Error(`flux-lsp-browser's glue module changed: "${expected.split('\n')[0]}" not found`);
    }
  }
  const patched = glueSource
    .replace(WASM_IMPORT, 'let wasm;')
    .replace(MEMORY_VIEWS, `export function __setWasm(exports) {\n  wasm = exports;\n${MEMORY_VIEWS}\n}`);
  const glue = await import(`data:text/javascript;base64,${Buffer.from(patched).toString('base64')}`);
  const bytes = await readFile(path.join(PKG, 'flux-lsp-browser_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './flux-lsp-browser_bg.js': glue });
  glue.__setWasm(instance.exports);
  return glue;
}

/** Syntax errors of `script` from its AST (`errors` lists, Bad* nodes), with locations. */
export function syntaxErrors(lsp, script) {
  const found = [];
  const walk = (node) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const at = node.location?.start ? `${node.location.start.line}:${node.location.start.column}` : '?';
    for (const e of node.errors ?? []) found.push(`${at}: ${e.msg ?? JSON.stringify(e)}`);
    if (node.type === 'BadExpression' || node.type === 'BadStatement') found.push(`${at}: ${node.text}`);
    Object.values(node).forEach(walk);
  };
  walk(lsp.parse(script));
  return found;
}

/** `script` as InfluxData's formatter (`flux fmt`) writes it. */
export function formatted(lsp, script) {
  const flux = new lsp.Flux(script);
  try {
    return flux.format();
  } finally {
    flux.free();
  }
}

/** Whether `script` passes the semantic check: types and builtin signatures. */
export function semanticallyValid(lsp, script) {
  const flux = new lsp.Flux(script);
  try {
    return flux.is_valid();
  } finally {
    flux.free();
  }
}

/**
 * The language server's diagnostics for `script` ("line:col: message"), through the
 * LSP protocol itself: they say what is wrong where `is_valid()` only says false. One
 * server serves every call (each script a document of its own).
 */
export async function diagnostics(lsp, script) {
  server ??= startServer(lsp);
  const { send, waiting } = await server;
  const uri = `file:///check-${++documents}.flux`;
  const published = new Promise((resolve) => waiting.set(uri, resolve));
  await send({
    method: 'textDocument/didOpen',
    params: { textDocument: { uri, languageId: 'flux', version: 1, text: script } },
  });
  const timeout = new Promise((r) => setTimeout(() => r(null), 5000).unref());
  const list = await Promise.race([published, timeout]);
  if (list === null) return ['(the language server published no diagnostics within 5 s)'];
  return list
    .filter((d) => d.severity === 1)
    .map((d) => `${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`);
}

let server;
let documents = 0;

async function startServer(lsp) {
  const lsps = new lsp.Lsp();
  const waiting = new Map();
  lsps.onMessage((raw) => {
    const m = JSON.parse(raw);
    if (m.method === 'textDocument/publishDiagnostics') waiting.get(m.params.uri)?.(m.params.diagnostics);
  });
  lsps.run().catch(() => {});
  const send = (msg) => lsps.send(JSON.stringify({ jsonrpc: '2.0', ...msg }));
  await send({ id: 1, method: 'initialize', params: { capabilities: {} } });
  await send({ method: 'initialized', params: {} });
  return { send, waiting };
}
