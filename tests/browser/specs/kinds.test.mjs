// End to end, for every network test kind: an operator creates the test in the form,
// the local agent of `streamswarm up` (run.sh) runs it against the lab of
// tests/browser/lab/net.sh (machine — r1 — target with HTTP and DNS), and the test page
// charts its results with the charts the kind declares; a traceroute's path page lists
// the hops.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { URL, launch, newPage, login, shot, assertClean } from "./lib.mjs";

const run = promisify(execFile);
const LAB = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "lab", "net.sh");
const R1 = "10.75.1.2", TARGET = "10.75.2.2";

let browser, localAgent;
before(async () => {
  await run("bash", [LAB, "up"]);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await run("bash", [LAB, "down"]);
});

/** The id of `streamswarm up`'s own agent: the one its default tests run on. */
async function findLocalAgent(page) {
  const list = await (await page.request.get(URL + "/api/v1/tests?search=" + encodeURIComponent("(local agent)"))).json();
  const host = list.tests.find((t) => t.kind === "host");
  assert.ok(host, "the default host test of streamswarm up exists");
  const detail = await (await page.request.get(URL + "/api/v1/tests/" + host.id)).json();
  return detail.assignments.agents[0];
}

/** Creates a test through the form; returns its id. `params` maps input ids to values. */
async function createInForm(page, kind, target, params) {
  await page.goto(URL + "/tests/new");
  await page.fill("#f-name", `e2e ${kind} ${Date.now()}`);
  await page.selectOption("#f-kind", kind);
  await page.fill("#f-target", target);
  await page.fill("#f-interval", "5");
  for (const [id, value] of Object.entries(params)) {
    const tag = await page.locator("#" + id).evaluate((el) => el.tagName);
    if (tag === "SELECT") await page.selectOption("#" + id, value); else await page.fill("#" + id, value);
  }
  await page.selectOption("#f-agents", String(localAgent));
  await Promise.all([page.waitForURL(/\/tests\/\d+$/), page.click('#test-form button[type="submit"]')]);
  return Number(new globalThis.URL(page.url()).pathname.split("/").pop());
}

/** Waits until the test page charts points, then checks every declared chart of the kind
 *  is on the page and that the API's panels carry measured (non-null) values. */
async function chartsShowResults(page, id, kind) {
  await page.click('[data-range="1h"]');
  await page.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0, null, { timeout: 90_000 });
  const data = await (await page.request.get(URL + `/api/v1/tests/${id}/series?range=1h`)).json();
  assert.ok(data.panels.length > 0, `${kind} declares charts`);
  for (const panel of data.panels) {
    assert.ok(await page.locator("#chart-" + panel.key).count() === 1, `chart ${panel.key} drawn`);
  }
  const values = data.panels.flatMap((p) => p.lines.flatMap((l) => l.points.map((pt) => pt.v))).filter((v) => v != null);
  assert.ok(values.length > 0, `${kind}: measured values in the charts: ${JSON.stringify(data.panels)}`);
  return data;
}

test("DNS, TCP, HTTP and traceroute tests made in the form run on the local agent and chart their results", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  localAgent = await findLocalAgent(page);
  const cases = [
    ["dns", "www.e2e.lab", { "p-dns-resolvers": TARGET, "p-dns-record_type": "A" }],
    ["tcp", `${TARGET}:8080`, {}],
    ["http", `http://${TARGET}:8080/`, {}],
    ["traceroute", TARGET, { "p-traceroute-protocol": "icmp" }],
  ];
  const ids = {};
  for (const [kind, target, params] of cases) ids[kind] = await createInForm(page, kind, target, params);
  for (const [kind] of cases) {
    await page.goto(URL + "/tests/" + ids[kind]);
    await chartsShowResults(page, ids[kind], kind);
    await shot(page, `test-${kind}-e2e-desktop`);
  }
  // What the charts show is the lab's: one A record for www.e2e.lab, two hops to the target.
  const last = async (kind, key) => {
    const data = await (await page.request.get(URL + `/api/v1/tests/${ids[kind]}/series?range=1h`)).json();
    const panel = data.panels.find((p) => p.key === key);
    assert.ok(panel, `${kind} has a ${key} chart`);
    return panel.lines.flatMap((l) => l.points.map((pt) => pt.v)).filter((v) => v != null).pop();
  };
  assert.equal(await last("dns", "answers"), 1);
  assert.equal(await last("traceroute", "hop_count"), 2);
  // The traceroute's path page lists the hops, once the path tracker has taken the run in.
  const pathPage = URL + `/tests/${ids.traceroute}/paths`;
  await page.goto(pathPage);
  for (let i = 0; i < 30 && (await page.locator("#hop-table").count()) === 0; i++) {
    await page.waitForTimeout(2000);
    await page.goto(pathPage);
  }
  const hops = await page.locator("#hop-table").innerText();
  assert.ok(hops.includes(R1) && hops.includes(TARGET), hops);
  await shot(page, "test-traceroute-paths-e2e-desktop");
  assertClean(seen);
  await context.close();
});
