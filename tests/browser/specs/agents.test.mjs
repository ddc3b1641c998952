// Agents in the web UI with a real agent process (target/debug/streamswarm-agent, see
// run.sh): enrolled with the command the enrol page shows, seen online, running a ping
// test created and edited through the form; a hostile hostname; rename / revoke /
// delete; what a viewer sees.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { URL, DESKTOP, PHONE, launch, newPage, login, shot, assertClean, csrfOf } from "./lib.mjs";

const AGENT_BIN = process.env.SSW_AGENT_BIN;
if (!AGENT_BIN) throw new Error("run the specs with tests/browser/run.sh (SSW_AGENT_BIN unset)");
const XSS = "<script>alert(1)</script>";
const run = promisify(execFile);

let browser, stateDir, agentProc, agentLog = "";
let agentId; // the real agent's id
let testId; // its ping test
before(async () => {
  browser = await launch();
  stateDir = await mkdtemp(path.join(os.tmpdir(), "ssw-agent-"));
});
after(async () => {
  if (agentProc && agentProc.exitCode === null) {
    const exited = new Promise((r) => agentProc.once("exit", r));
    agentProc.kill("SIGTERM");
    await exited;
  }
  await browser?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** The text of the first body row of the recent-results table, per column. */
async function newestRow(page) {
  return page.locator("#recent-results tbody tr").first().locator("td").allTextContents();
}

test("an agent enrolled with the enrol page's command comes online and runs a ping test made in the form", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  await page.goto(URL + "/agents/enrol");
  await page.fill("#enrol-name", "browser test agent");
  await page.click('#enrol-form button[type="submit"]');
  await page.locator("#enrol-command").waitFor({ state: "visible" });
  const command = (await page.inputValue("#enrol-command")).split(" ");
  assert.equal(command[0], "streamswarm-agent");
  // The command as shown, with our binary and a private state directory.
  const enrolled = await run(AGENT_BIN, [...command.slice(1), "--state-dir", stateDir]);
  agentId = Number(enrolled.stdout.trim());
  assert.ok(agentId > 0, "enroll printed the agent id: " + enrolled.stdout);

  agentProc = spawn(AGENT_BIN, ["run", "--state-dir", stateDir], {
    env: { ...process.env, STREAMSWARM_AGENT__SELF_METRICS__INTERVAL: "1s", STREAMSWARM_AGENT__LOG__LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  agentProc.stdout.on("data", (d) => { agentLog += d; });
  agentProc.stderr.on("data", (d) => { agentLog += d; });

  // It appears online in the list (the page polls; no reload).
  await page.goto(URL + "/agents");
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-row-id="${id}"] [data-field="status"]`)?.textContent === "online",
    agentId, { timeout: 40_000 },
  ).catch((e) => { throw new Error(e.message + "\nagent log:\n" + agentLog); });

  // A ping test of 127.0.0.1 on that agent, through the form.
  await page.goto(URL + "/tests/new");
  await page.fill("#f-name", "loopback " + Date.now());
  await page.selectOption("#f-kind", "ping");
  await page.fill("#f-target", "127.0.0.1");
  await page.fill("#f-interval", "1");
  await page.fill("#p-ping-count", "1");
  await page.selectOption("#f-agents", String(agentId));
  assert.ok(await page.isChecked("#f-enabled"), "new tests are enabled");
  await Promise.all([page.waitForURL(/\/tests\/\d+$/), page.click('#test-form button[type="submit"]')]);
  testId = Number(new globalThis.URL(page.url()).pathname.split("/").pop());
  await page.click('[data-range="1h"]');
  // Its chart receives the agent's results (the page re-reads every 10 s).
  await page.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0, null, { timeout: 60_000 })
    .catch((e) => { throw new Error(e.message + "\nagent log:\n" + agentLog); });
  const rtt = await page.evaluate(() => Chart.getChart("chart-rtt").data.datasets.map((d) => d.data.filter((p) => p.y != null).length));
  assert.ok(rtt.every((n) => n > 0), "min, max and median lines have points: " + rtt);
  let row = await newestRow(page);
  const agent = await (await page.request.get(URL + "/api/v1/agents/" + agentId)).json();
  assert.equal(row[1], agent.name, "the agent, named after its hostname");
  assert.match(row[2], /^\d+\.\d\d ms$/, "a measured RTT: " + row);
  assert.equal(row[5], "0.00 %", "loopback loses nothing");
  assert.equal(row[6], "1", "one echo request per run");
  await shot(page, "test-detail-live-desktop");

  // Edit the count; the newest results follow.
  await page.goto(URL + `/tests/${testId}/edit`);
  assert.equal(await page.inputValue("#p-ping-count"), "1");
  await page.fill("#p-ping-count", "3");
  await Promise.all([page.waitForURL(URL + "/tests/" + testId), page.click('#test-form button[type="submit"]')]);
  await page.click('[data-range="1h"]');
  await page.waitForFunction(
    () => document.querySelector("#recent-results tbody tr td:nth-child(7)")?.textContent === "3",
    null, { timeout: 60_000 },
  ).catch((e) => { throw new Error(e.message + "\nagent log:\n" + agentLog); });
  row = await newestRow(page);
  assert.equal(row[5], "0.00 %");
  assert.equal((await (await page.request.get(URL + "/api/v1/tests/" + testId)).json()).params.count, 3);

  // The agent's page with real data (host facts from its heartbeat) at both widths.
  await page.goto(URL + "/agents/" + agentId);
  await page.locator('[data-bind="status"]').filter({ hasText: "online" }).waitFor();
  assert.ok(await page.getByRole("link", { name: /^loopback / }).isVisible(), "its test is listed");
  await page.locator("dt", { hasText: "os" }).first().waitFor();
  await shot(page, "agent-detail-real-desktop");
  await page.goto(URL + "/agents");
  await shot(page, "agents-real-desktop");
  for (const [label, viewport] of [["phone", PHONE]]) {
    const { context: c2, page: p2, seen: s2 } = await newPage(browser, viewport);
    await login(p2, "admin");
    await p2.goto(URL + "/agents");
    await shot(p2, `agents-real-${label}`);
    await p2.goto(URL + "/agents/" + agentId);
    await shot(p2, `agent-detail-real-${label}`);
    await p2.goto(URL + "/tests/" + testId);
    await p2.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0);
    await shot(p2, `test-detail-live-${label}`);
    assertClean(s2);
    await c2.close();
  }
  assert.deepEqual(seen.dialogs, []);
  assertClean(seen);
  await context.close();
});

test("the dashboard counts ingested points, charts the fleet and flags a spool backlog; a test chart takes a custom range", async () => {
  assert.ok(testId, "the previous test made a ping test");
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  const csrf = await csrfOf(page);
  // An agent whose own metrics report a backlog (written with its credential, as the agent would).
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "enrol", name: "backlog", uses: 1 },
  });
  const enrol = await page.request.post(URL + "/api/v1/agent/enrol", {
    headers: { Authorization: "Bearer " + (await tok.json()).token }, data: { hostname: "backlogged-host" },
  });
  assert.equal(enrol.status(), 201);
  const stuck = await enrol.json();
  const now = Date.now();
  const w = await page.request.post(URL + "/write?db=d&precision=ms", {
    headers: { Authorization: "Token " + stuck.credential },
    data: `agent_self,agent=${stuck.agent_id} points_produced_total=1i,points_sent_total=1i,batches_sent_total=1i,batches_retried_total=0i,spool_bytes=4096i,oldest_unsent_age_s=900,probe_errors_total=0i,schedule_lag_max_ms=0,uptime_s=60i ${now - 5000}`,
  });
  assert.equal(w.status(), 204, await w.text());

  // The fleet summary behind the tiles is shared by all viewers and at most 10 s old
  // (FLEET_SUMMARY_MAX_AGE): reload until it includes the new agent.
  const tile = page.locator(`[data-health-id="${stuck.agent_id}"]`);
  const until = Date.now() + 30_000;
  for (;;) {
    await page.goto(URL + "/");
    if ((await tile.count()) > 0) break;
    assert.ok(Date.now() < until, "the backlog tile appears within the summary's 10 s");
    await page.waitForTimeout(1000);
  }
  assert.match(await tile.textContent(), /spool backlog: oldest unsent point 900 s old, 4096 bytes waiting/);
  // Points: the real agents have delivered some; the number is the API's.
  const shown = Number(await page.locator("#points-last-hour").textContent());
  assert.ok(shown > 0, "points were ingested in the last hour: " + shown);
  const api = await (await page.request.get(URL + "/api/v1/dashboard")).json();
  assert.ok(api.points_last_hour >= shown, `${api.points_last_hour} >= ${shown}`);
  assert.match(await page.locator("#points-last-hour").locator("..").getAttribute("title"), /agent_self\.points_sent_total/);
  // The fleet chart has the real ping results.
  await page.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0, null, { timeout: 30_000 });
  // (Insight windows, shaded when the analytics found something, are not series.)
  const fleet = await page.evaluate(() => Chart.getChart("chart-rtt").data.datasets.filter((d) => !d.windowBox).map((d) => d.label));
  assert.deepEqual(fleet, ["all agents min", "all agents max", "all agents median"]);
  await shot(page, "dashboard-real-desktop");

  // A custom range on the test page: the last 10 minutes, then a backwards one.
  await page.goto(URL + "/tests/" + testId);
  const local = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000); return d.toISOString().slice(0, 16); };
  await page.evaluate(() => { window.__notReloaded = true; });
  await page.fill("#range-from", local(Date.now() - 10 * 60_000));
  await page.fill("#range-to", local(Date.now() + 60_000));
  await page.click('#custom-range button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("charts").dataset.loaded === "custom" && Number(document.getElementById("charts").dataset.points) > 0);
  assert.match(await page.locator("#csv-link").getAttribute("href"), /\?from=\d+&to=\d+&format=csv$/);
  await page.fill("#range-from", local(Date.now()));
  await page.fill("#range-to", local(Date.now() - 3_600_000));
  await page.click('#custom-range button[type="submit"]');
  await page.locator("#chart-note").filter({ hasText: "from: must be before to" }).waitFor();
  assert.equal(await page.evaluate(() => window.__notReloaded), true);
  assertClean(seen);
  await context.close();
});

test("an agent named <script> renders as text; rename, revoke and delete work with confirmations", async () => {
  const { context, page, seen } = await newPage(browser, DESKTOP);
  await login(page, "admin");
  const csrf = await csrfOf(page);
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "enrol", name: "xss", uses: 1 },
  });
  assert.equal(tok.status(), 201, await tok.text());
  const enrol = await page.request.post(URL + "/api/v1/agent/enrol", {
    headers: { Authorization: "Bearer " + (await tok.json()).token }, data: { hostname: XSS },
  });
  assert.equal(enrol.status(), 201, await enrol.text());
  const id = (await enrol.json()).agent_id;

  await page.goto(URL + "/agents?search=" + encodeURIComponent("script"));
  const link = page.locator(`tr[data-row-id="${id}"] a`);
  assert.equal(await link.textContent(), XSS);
  await page.goto(URL + "/agents/" + id);
  assert.equal(await page.locator("#agent-name").textContent(), XSS);
  assert.equal(await page.locator("#agent-name script, dd script").count(), 0, "no script element from the name");
  assert.equal(await page.locator("dd", { hasText: XSS }).first().textContent(), XSS, "the hostname as text");
  await shot(page, "agent-detail-xss-desktop");

  // Rename.
  await page.fill("#rename", "renamed " + id);
  await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Rename" }).click()]);
  await page.locator("#agent-name").filter({ hasText: "renamed " + id }).waitFor();
  assert.equal((await (await page.request.get(URL + "/api/v1/agents/" + id)).json()).name, "renamed " + id);
  // Revoke (confirmed): the badge says so and the credential stops working.
  await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Revoke" }).click()]);
  assert.ok(seen.dialogs.some((m) => m.startsWith("Revoke this agent?")), "asked before revoking");
  await page.locator('[data-bind="status"]').filter({ hasText: "revoked" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Revoke" }).count(), 0);
  // Delete (confirmed): back on the list, gone from the API.
  await Promise.all([page.waitForURL(URL + "/agents"), page.getByRole("button", { name: "Delete" }).click()]);
  assert.ok(seen.dialogs.includes("Delete this agent and its assignments?"), "asked before deleting");
  assert.equal((await page.request.get(URL + "/api/v1/agents/" + id)).status(), 404);
  assert.equal(await page.locator(`tr[data-row-id="${id}"]`).count(), 0);
  assert.deepEqual(seen.dialogs.filter((m) => m.includes("1")), [], "no alert(1) ran");
  assertClean(seen);
  await context.close();
});

test("a viewer sees an agent's page without rename, revoke or delete", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "viewer");
  const list = await (await page.request.get(URL + "/api/v1/agents")).json();
  const id = agentId ?? list.agents[0].id;
  await page.goto(URL + "/agents/" + id);
  await page.locator("#agent-name").waitFor();
  assert.equal(await page.locator("#rename").count(), 0);
  assert.equal(await page.locator("[data-api-action]").count(), 0);
  assert.equal(await page.getByRole("button", { name: /Rename|Revoke|Delete/ }).count(), 0);
  const csrf = await csrfOf(page);
  const forged = await page.request.post(URL + `/api/v1/agents/${id}/revoke`, { headers: { "X-CSRF-Token": csrf } });
  assert.equal(forged.status(), 403);
  assert.deepEqual(seen.dialogs, []);
  assertClean(seen);
  await context.close();
});
