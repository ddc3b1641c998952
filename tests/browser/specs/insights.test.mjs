// Analytics insights in the web UI. The analytics process is not what is tested here: an
// insight is seeded through the store's API (examples/seed_insight, run.sh), and the
// series it is about — ping results, the forecast band and the anomalous points — are
// written to the embedded store through /write with an operator token, as the agents
// and the analytics process write them. The insights list shows it, its page draws the
// evidence chart (series, forecast band, anomalies, the insight's window shaded), the
// test page shades it on its charts, and the health badges turn.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { URL, PHONE, launch, newPage, login, shot, assertClean, csrfOf } from "./lib.mjs";

const SEED = process.env.SSW_SEED_INSIGHT;
const DATABASE = process.env.SSW_DATABASE_URL;
if (!SEED || !DATABASE) throw new Error("run the specs with tests/browser/run.sh (SSW_SEED_INSIGHT unset)");
const TARGET = "198.51.100.77";
const MINUTE = 60_000;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/** Opens (or updates) an insight through the store's API; resolves to its id. */
function seed(insight) {
  return new Promise((resolve, reject) => {
    const child = execFile(SEED, [DATABASE], (err, stdout, stderr) => {
      if (err) reject(new Error(err.message + "\n" + stderr));
      else resolve(JSON.parse(stdout).id);
    });
    child.stdin.end(JSON.stringify(insight));
  });
}

test("an insight is listed, its evidence is charted with the forecast band and its window, and health turns", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  const csrf = await csrfOf(page);
  // An agent (enrolled with a one-use token) and a ping test it runs.
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "enrol", name: "insightful", uses: 1 },
  });
  const enrol = await page.request.post(URL + "/api/v1/agent/enrol", {
    headers: { Authorization: "Bearer " + (await tok.json()).token }, data: { hostname: "insight-host" },
  });
  assert.equal(enrol.status(), 201);
  const agent = (await enrol.json()).agent_id;
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "insight web " + Date.now(), kind: "ping", target: TARGET, schedule: { interval_seconds: 60 },
      assignments: { agents: [agent] } },
  });
  assert.equal(created.status(), 201, await created.text());
  const t = await created.json();

  // The insight: RTT stepped up 20 minutes ago and is still up.
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const started = now - 20 * MINUTE;
  const fingerprint = `latency|ping.rtt_avg_ms|pair|test=${t.id}|agent=${agent}|browser`;
  const summary = `insight-host sees RTT to ${TARGET} +35 ms (+48 %) above forecast`;
  const id = await seed({
    fingerprint, kind: "latency", metric: "ping.rtt_avg_ms", scope: "pair", test_id: t.id, target: TARGET,
    agent_ids: [agent], agents_total: 1, severity: "critical", started_at: started, detected_at: started + 2 * MINUTE,
    expected: 73.0, observed: 108.0, unit: "ms", summary,
    evidence: { series: [{ agent_id: agent, test_id: t.id, target: TARGET, measurement: "ping", field: "rtt_avg_ms" }],
      window: { from: started, to: null }, change_percent: 48.0, notes: ["seeded by the browser test"] },
  });
  assert.ok(id > 0);

  // The series: two hours of ping results, the forecast band and the anomalous points.
  const writer = (await (await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "api", name: "analytics writer", role: "operator" },
  })).json()).token;
  const tags = `agent=${agent},test=${t.id},target=${TARGET}`;
  const lines = [];
  for (let m = 120; m >= 1; m--) {
    const ts = now - m * MINUTE;
    const shifted = ts >= started;
    const rtt = shifted ? 108 + (m % 3) : 73 + (m % 5) / 2;
    lines.push(`ping,${tags} sent=5i,received=5i,rtt_min_ms=${rtt - 2},rtt_avg_ms=${rtt},rtt_max_ms=${rtt + 3},rtt_p50_ms=${rtt},loss_percent=0 ${ts}`);
    lines.push(`forecast,${tags},metric=ping.rtt_avg_ms expected=74,lower=66,upper=82,level_percent=95 ${ts}`);
    if (shifted) lines.push(`anomaly,${tags},metric=ping.rtt_avg_ms,scope=pair observed=${rtt},expected=74,score=8.5,insight_id=${id}i ${ts}`);
  }
  const w = await page.request.post(URL + "/write?db=d&precision=ms", {
    headers: { Authorization: "Token " + writer }, data: lines.join("\n"),
  });
  assert.equal(w.status(), 204, await w.text());

  // The list: the summary, linked; the navbar counts it.
  await page.goto(URL + "/insights");
  const row = page.locator(`#insight-table tr[data-row-id="${id}"]`);
  assert.match(await row.textContent(), /insight-host sees RTT to 198\.51\.100\.77 \+35 ms \(\+48 %\) above forecast/);
  assert.equal(await row.locator(".badge.severity").textContent(), "critical");
  assert.match(await row.textContent(), /insight-host/);
  await page.locator("#nav-insights-count:not(.d-none)").waitFor();
  assert.ok(Number(await page.locator("#nav-insights-count").textContent()) >= 1);
  await shot(page, "insights-desktop");

  // Its page: the facts and the evidence chart.
  await Promise.all([page.waitForURL(new RegExp(`/insights/${id}$`)), row.locator(`a[href="/insights/${id}"]`).click()]);
  assert.equal(await page.locator("#insight-summary").textContent(), summary);
  assert.equal((await page.locator("#insight-state").textContent()).trim(), "open");
  assert.match(await page.locator("#insight-facts").textContent(), /\+48\.0 %/);
  const box = page.locator("#evidence-0");
  await page.waitForFunction(() => document.getElementById("evidence-0")?.dataset.loaded === "ok", null, { timeout: 20_000 });
  // The window (20 minutes, open) and an hour before it: 80 one-minute results.
  assert.equal(await box.getAttribute("data-points"), "80");
  assert.equal(await box.getAttribute("data-forecast"), "80");
  assert.equal(await box.getAttribute("data-anomalies"), "20");
  const chart = await page.evaluate(() => {
    const c = Chart.getChart(document.querySelector("#evidence-0 canvas"));
    return {
      drawn: c.chartArea.right - c.chartArea.left > 100,
      sets: c.data.datasets.map((d) => ({
        label: d.label, band: !!d.band, fill: d.fill ?? null, window: d.windowBox ?? null,
        points: d.data.filter((p) => p.y != null).length,
      })),
    };
  });
  assert.ok(chart.drawn, "the chart has a drawing area");
  const band = chart.sets.filter((d) => d.band);
  assert.equal(band.length, 2, "the forecast band's lower and upper edges: " + JSON.stringify(chart.sets));
  assert.deepEqual(band.map((d) => d.points), [80, 80]);
  assert.equal(band[1].fill, "-1", "the upper edge fills down to the lower");
  const byLabel = (l) => chart.sets.find((d) => d.label === l);
  assert.equal(byLabel("forecast").points, 80);
  assert.equal(byLabel("observed").points, 80);
  assert.equal(byLabel("anomalous").points, 20);
  const window = chart.sets.find((d) => d.window);
  assert.equal(window.label, "insight window");
  assert.equal(window.window.from, started);
  assert.ok(window.window.to >= now, "an open insight's window reaches the range's end");
  // The shaded window is on the canvas: a pixel inside it differs from one outside.
  const shaded = await page.evaluate(([from]) => {
    const c = Chart.getChart(document.querySelector("#evidence-0 canvas"));
    const x = c.scales.x, area = c.chartArea, ctx = c.ctx, dpr = c.currentDevicePixelRatio;
    const px = (ms) => Array.from(ctx.getImageData(Math.round(x.getPixelForValue(ms) * dpr), Math.round((area.top + 3) * dpr), 1, 1).data);
    return { inside: px(from + 60_000), outside: px(from - 30 * 60_000) };
  }, [started]);
  assert.notDeepEqual(shaded.inside, shaded.outside, "the window is shaded");
  await shot(page, "insight-desktop");
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300); // the chart follows its box's new width
  await shot(page, "insight-phone");
  await page.setViewportSize({ width: 1366, height: 900 });

  // The test page shades it on its charts and lists it; health badges turn.
  await page.goto(URL + "/tests/" + t.id);
  await page.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0);
  assert.equal(await page.locator("#charts").getAttribute("data-insights"), "1");
  const windows = await page.evaluate(() => Chart.getChart("chart-rtt").data.datasets.filter((d) => d.windowBox).length);
  assert.equal(windows, 1);
  assert.match(await page.locator("[data-insight-list]").textContent(), /\+35 ms/);
  assert.equal(await page.locator("#test-health .badge.health").textContent(), "failing");
  await shot(page, "test-insight-desktop");
  await page.goto(URL + "/tests");
  assert.equal(await page.locator(`tr[data-row-id="${t.id}"] .badge.health`).textContent(), "failing");
  await page.goto(URL + "/agents");
  assert.equal(await page.locator(`tr[data-row-id="${agent}"] .badge.health`).textContent(), "failing");
  await page.goto(URL + "/");
  assert.match(await page.locator("#latest-insights").textContent(), /\+35 ms/);
  await shot(page, "dashboard-insights-desktop");

  // Resolved: on the Resolved tab, healthy again.
  await new Promise((resolve, reject) => execFile(SEED, [DATABASE, "--resolve", fingerprint], (e) => (e ? reject(e) : resolve())));
  await page.goto(URL + "/insights");
  assert.equal(await page.locator(`#insight-table tr[data-row-id="${id}"]`).count(), 0);
  await page.click("#tab-resolved");
  await page.locator(`#insight-table tr[data-row-id="${id}"]`).waitFor();
  await page.goto(URL + "/tests");
  assert.equal(await page.locator(`tr[data-row-id="${t.id}"] .badge.health`).textContent(), "healthy");
  assertClean(seen);
  await context.close();
});

test("the capacity form forecasts when a rising series reaches a threshold, and says what is wrong with a bad one", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  const csrf = await csrfOf(page);
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "enrol", name: "capacity", uses: 1 },
  });
  const enrol = await page.request.post(URL + "/api/v1/agent/enrol", {
    headers: { Authorization: "Bearer " + (await tok.json()).token }, data: { hostname: "capacity-host" },
  });
  const agent = (await enrol.json()).agent_id;
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "capacity web " + Date.now(), kind: "ping", target: "198.51.100.78", schedule: { interval_seconds: 600 },
      assignments: { agents: [agent] } },
  });
  assert.equal(created.status(), 201, await created.text());
  const t = await created.json();
  // Four days of results every 10 minutes: RTT rising 0.1 ms an hour from 20 ms with a
  // 1 ms daily swing, so about 29.6 ms now and 35 ms some 54 hours ahead.
  const writer = (await (await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "api", name: "capacity writer", role: "operator" },
  })).json()).token;
  const HOUR = 60 * MINUTE;
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const lines = [];
  for (let k = 4 * 24 * 6; k >= 1; k--) {
    const ts = now - k * 10 * MINUTE;
    const h = (4 * 24 * 6 - k) / 6;
    const rtt = 20 + 0.1 * h + Math.sin((2 * Math.PI * h) / 24);
    lines.push(`ping,agent=${agent},test=${t.id},target=198.51.100.78 sent=5i,received=5i,rtt_avg_ms=${rtt.toFixed(3)} ${ts}`);
  }
  const w = await page.request.post(URL + "/write?db=d&precision=ms", {
    headers: { Authorization: "Token " + writer }, data: lines.join("\n"),
  });
  assert.equal(w.status(), 204, await w.text());

  await page.goto(URL + "/tests/" + t.id);
  assert.equal(await page.locator("#trend-agent option").textContent(), "capacity-host");
  assert.equal(await page.locator("#trend-field").inputValue(), "ping.rtt_avg_ms");
  // A threshold that is not a number: the API's message, shown.
  await page.fill("#trend-threshold", "");
  await page.click("#trend-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("trend").dataset.loaded === "error");
  assert.match(await page.locator("#trend-answer").textContent(), /400.*threshold/);
  // 35 ms: expected within the 14 days, with an interval.
  await page.fill("#trend-threshold", "35");
  await page.click("#trend-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("trend").dataset.loaded === "ok", null, { timeout: 20_000 });
  const answer = await page.locator("#trend-answer").textContent();
  assert.match(answer, /^ping\.rtt_avg_ms is expected to rise to 35 ms at .* \(95 % interval: from /, answer);
  assert.equal(await page.locator("#trend").getAttribute("data-forecast"), String(14 * 24));
  assert.ok(Number(await page.locator("#trend").getAttribute("data-history")) >= 90, "the hourly history is charted");
  const sets = await page.evaluate(() => Chart.getChart(document.querySelector("#trend-chart canvas")).data.datasets.map((d) => ({ label: d.label, band: !!d.band, window: !!d.windowBox, points: d.data.length })));
  assert.equal(sets.filter((d) => d.band).length, 2, JSON.stringify(sets));
  assert.ok(sets.some((d) => d.label === "threshold 35 ms" && d.points === 2), JSON.stringify(sets));
  assert.ok(sets.some((d) => d.window && d.label === "crossing interval"), JSON.stringify(sets));
  await shot(page, "test-capacity-desktop");
  assertClean(seen);
  await context.close();
});
