// The traceroute path page: an agent's runs written as its probe would (traceroute +
// traceroute_hop points with its credential), a route swapped between two runs; the
// server's path tracker records the change; the page shows the hop table, the schematic,
// the change with its hop diff and the hops on the Leaflet map, enriched from the tiny
// GeoIP databases run.sh builds. No tile URL is configured: the map must request
// nothing from any other host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { URL, PHONE, launch, newPage, login, shot, assertClean, csrfOf } from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const TARGET = "203.0.113.50";
const PATH_A = `10.75.0.1 203.0.113.2 * ${TARGET}`;
const PATH_B = `10.75.0.1 198.51.100.7 * ${TARGET}`;

async function hash(s) {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Buffer.from(d).toString("hex").slice(0, 16);
}

test("a route change shows in the hop table, the change history and on the map", async () => {
  const { context, page, seen } = await newPage(browser);
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(URL)) outside.push(r.url()); });
  await login(page, "admin");
  const csrf = await csrfOf(page);
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "enrol", name: "tracer", uses: 1 },
  });
  const enrol = await page.request.post(URL + "/api/v1/agent/enrol", {
    headers: { Authorization: "Bearer " + (await tok.json()).token }, data: { hostname: "tracer-host" },
  });
  assert.equal(enrol.status(), 201);
  const agent = await enrol.json();
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "trace " + Date.now(), kind: "traceroute", target: TARGET, schedule: { interval_seconds: 60 },
      assignments: { agents: [agent.agent_id] } },
  });
  assert.equal(created.status(), 201, await created.text());
  const t = await created.json();

  const tags = `agent=${agent.agent_id},test=${t.id},target=${TARGET},protocol=icmp`;
  const run = async (path, at) =>
    `traceroute,${tags} destination="${TARGET}",reached=true,hop_count=4i,responding_hops=3i,path="${path}",path_hash="${await hash(path)}",probes_sent=12i ${at}`;
  const now = Date.now();
  const hops = [
    'address="10.75.0.1",sent=3i,received=3i,loss_percent=0,rtt_min_ms=0.1,rtt_avg_ms=0.2,rtt_max_ms=0.3,rtt_stdev_ms=0.08',
    'address="198.51.100.7",sent=3i,received=2i,loss_percent=33.3,rtt_min_ms=1.5,rtt_avg_ms=2,rtt_max_ms=2.5,rtt_stdev_ms=0.5,mpls="16001/0/1/254"',
    "sent=3i,received=0i,loss_percent=100",
    `address="${TARGET}",sent=3i,received=3i,loss_percent=0,rtt_min_ms=3,rtt_avg_ms=3.5,rtt_max_ms=4,rtt_stdev_ms=0.4`,
  ].map((f, i) => `traceroute_hop,${tags},hop=${i + 1} ${f} ${now - 10000}`);
  const body = [await run(PATH_A, now - 20000), await run(PATH_B, now - 10000), ...hops].join("\n");
  const w = await page.request.post(URL + "/write?db=d&precision=ms", {
    headers: { Authorization: "Token " + agent.credential }, data: body,
  });
  assert.equal(w.status(), 204, await w.text());

  // The test page links to the path page; the tracker polls every 10 s (paths.poll_seconds).
  await page.goto(URL + "/tests/" + t.id);
  await Promise.all([page.waitForURL(/\/paths$/), page.click("#paths-link")]);
  const until = Date.now() + 30_000;
  while ((await page.locator("#hop-table").count()) === 0) {
    assert.ok(Date.now() < until, "the tracker takes the runs in within its poll interval");
    await page.waitForTimeout(1000);
    await page.reload();
  }
  const rows = page.locator("#hop-table tbody tr");
  assert.equal(await rows.count(), 4);
  const row2 = await rows.nth(1).textContent();
  assert.match(row2, /198\.51\.100\.7/);
  assert.match(row2, /AS64500 Example Transit/);
  assert.match(row2, /Frankfurt am Main, DE/);
  assert.match(row2, /33\.3/);
  assert.match(row2, /16001\/0\/1\/254/);
  assert.match(await rows.nth(2).textContent(), /\*/);
  assert.equal(await page.locator("#path-chain li").count(), 5, "agent + four hops");
  const change = await page.locator(".path-change").first().textContent();
  assert.match(change, /203\.0\.113\.2/);
  assert.match(change, /198\.51\.100\.7/);
  assert.equal(await page.locator("#path-history tbody tr").count(), 2);

  // The map: Leaflet ran, a marker per located hop, a line, no tiles.
  await page.locator("#path-map.leaflet-container").waitFor();
  assert.equal(await page.locator("#path-map path.leaflet-interactive").count(), 3, "two markers and the line");
  assert.equal(await page.locator("#path-map img.leaflet-tile").count(), 0);
  await shot(page, "paths-desktop");
  await page.setViewportSize(PHONE);
  await shot(page, "paths-phone");
  assert.deepEqual(outside, [], "no request left for another host");
  assertClean(seen);
  await context.close();
});
