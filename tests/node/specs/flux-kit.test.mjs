// Every Flux script of the analyst kit (flux/**/*.flux) is valid for InfluxData's own
// Flux language server (@influxdata/flux-lsp-browser): its syntax (no parse error) and
// its semantics (types, builtin functions and their argument names and types), and it
// is formatted as InfluxData's formatter writes it (the kit's `cargo fmt`). Broken
// scripts written here show that both checks reject what they should.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { diagnostics, fluxLsp, formatted, semanticallyValid, syntaxErrors } from '../lib/flux.mjs';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const KIT = path.join(ROOT, 'flux');

function fluxFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return fluxFiles(p);
    return e.name.endsWith('.flux') ? [p] : [];
  });
}

let lsp;
before(async () => {
  lsp = await fluxLsp();
});

describe('the Flux kit', () => {
  const files = fluxFiles(KIT).sort();

  test('has queries and tasks, each query with its InfluxQL equivalent beside it', () => {
    const rel = files.map((f) => path.relative(KIT, f));
    assert.ok(rel.filter((f) => f.startsWith('queries/')).length >= 9, rel.join(', '));
    assert.ok(rel.filter((f) => f.startsWith('tasks/')).length >= 2, rel.join(', '));
    for (const f of files) {
      const influxql = f.replace(/\.flux$/, '.influxql');
      assert.ok(readFileSync(influxql, 'utf8').trim(), `${path.relative(ROOT, influxql)} missing or empty`);
    }
  });

  for (const file of files) {
    const name = path.relative(ROOT, file);
    test(name, async () => {
      const script = readFileSync(file, 'utf8');
      assert.deepEqual(syntaxErrors(lsp, script), [], `${name}: syntax errors`);
      assert.ok(lsp.is_valid_flux(script), `${name}: is_valid_flux() is false`);
      if (!semanticallyValid(lsp, script)) {
        assert.fail(`${name} is not valid Flux:\n  ${(await diagnostics(lsp, script)).join('\n  ')}`);
      }
      assert.equal(script, formatted(lsp, script), `${name} is not formatted as the Flux formatter writes it`);
    });
  }
});

describe('the Flux checks reject broken scripts', () => {
  const good = 'from(bucket: "streamswarm")\n    |> range(start: -1h)\n    |> filter(fn: (r) => r._measurement == "ping")\n';

  test('a valid script passes both checks', () => {
    assert.deepEqual(syntaxErrors(lsp, good), []);
    assert.equal(semanticallyValid(lsp, good), true);
  });

  test('a syntax error (unclosed call) fails the syntax check', async () => {
    const broken = 'from(bucket: "streamswarm"\n    |> range(start: -1h)\n';
    assert.notDeepEqual(syntaxErrors(lsp, broken), []);
    assert.equal(lsp.is_valid_flux(broken), false);
    assert.equal(semanticallyValid(lsp, broken), false);
  });

  test('an operator without its operand fails the syntax check', () => {
    assert.notDeepEqual(syntaxErrors(lsp, 'x = 1 +\n'), []);
  });

  test('an unknown builtin parses but fails the semantic check, named in the diagnostics', async () => {
    const broken = good + '    |> rangee(start: -1h)\n';
    assert.deepEqual(syntaxErrors(lsp, broken), []);
    assert.equal(semanticallyValid(lsp, broken), false);
    assert.match((await diagnostics(lsp, broken)).join('\n'), /undefined identifier rangee/);
  });

  test('an argument of the wrong type fails the semantic check', async () => {
    const broken = 'from(bucket: 42)\n    |> range(start: -1h)\n';
    assert.deepEqual(syntaxErrors(lsp, broken), []);
    assert.equal(semanticallyValid(lsp, broken), false);
    assert.match((await diagnostics(lsp, broken)).join('\n'), /expected string but found int \(argument bucket\)/);
  });

  test('an unknown argument name fails the semantic check', () => {
    assert.equal(semanticallyValid(lsp, 'from(bucket: "b")\n    |> range(begin: -1h)\n'), false);
  });

  test('a v.* parameter without its option fails: the kit must declare its parameters', () => {
    assert.equal(semanticallyValid(lsp, 'from(bucket: v.bucket)\n    |> range(start: v.timeRangeStart)\n'), false);
  });

  test('a script not formatted as the formatter writes it is told apart', () => {
    const untidy = 'from(bucket:"streamswarm")|>range(start:-1h)\n';
    assert.deepEqual(syntaxErrors(lsp, untidy), []);
    assert.notEqual(formatted(lsp, untidy), untidy);
    assert.equal(formatted(lsp, good), good);
  });

  test('an unknown package fails', () => {
    assert.equal(semanticallyValid(lsp, 'import "streamswarm/nothing"\n' + good), false);
  });
});
