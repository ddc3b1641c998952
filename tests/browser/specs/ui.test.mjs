// The web UI in a real browser against a real server (see run.sh).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { URL, PASSWORDS, DESKTOP, PHONE, launch, newPage, login, shot, assertClean, csrfOf } from "./lib.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const XSS = "<script>alert(1)</script>";

test("a wrong password is refused with a message; the right one reaches the dashboard", async () => {
  const { context, page, seen } = await newPage(browser);
  await page.goto(URL + "/");
  assert.match(new globalThis.URL(page.url()).pathname, /^\/login$/);
  await page.fill("#username", "admin");
  await page.fill("#password", "not-the-password");
  await page.click('button[type="submit"]');
  await page.getByRole("alert").filter({ hasText: "Invalid username or password." }).waitFor();
  await login(page, "admin");
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("data-bs-theme"), "dark");
  assertClean(seen);
  await context.close();
});

test("pages send the security headers", async () => {
  const { context, page } = await newPage(browser);
  await login(page, "viewer");
  const resp = await page.goto(URL + "/agents");
  const h = resp.headers();
  assert.match(h["content-security-policy"], /default-src 'self'; script-src 'self'; style-src 'self'/);
  assert.match(h["content-security-policy"], /frame-ancestors 'none'/);
  assert.equal(h["x-content-type-options"], "nosniff");
  assert.equal(h["referrer-policy"], "same-origin");
  await context.close();
});

test("an operator creates a test through the form; its <script> name renders as text", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  await page.goto(URL + "/tests");
  await page.click("#new-test");
  await page.waitForURL(URL + "/tests/new");
  const name = "Edge " + XSS + " " + Date.now();
  await page.fill("#f-name", name);
  await page.selectOption("#f-kind", "ping");
  await page.fill("#f-target", "192.0.2.1");
  await page.fill("#f-interval", "30");
  await page.fill("#p-ping-count", "3");
  await Promise.all([page.waitForURL(/\/tests\/\d+$/), page.click('#test-form button[type="submit"]')]);
  // The detail page shows the name verbatim, as text.
  await page.locator("#test-name").filter({ hasText: name }).waitFor();
  assert.equal(await page.locator("#test-name").textContent(), name);
  assert.equal(await page.locator("#test-name script").count(), 0, "no script element was created");
  // And the list shows it.
  await page.goto(URL + "/tests?search=" + encodeURIComponent("Edge"));
  await page.getByRole("link", { name }).waitFor();
  assert.deepEqual(seen.dialogs, [], "no dialog fired");
  assertClean(seen);
  await context.close();
});

test("validation errors from the API are shown next to their fields", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  await page.goto(URL + "/tests/new");
  await page.fill("#f-name", "bad schedule");
  await page.selectOption("#f-kind", "ping");
  await page.fill("#f-target", "192.0.2.1");
  await page.fill("#f-interval", "0");
  await page.fill("#p-ping-count", "5000");
  await page.click('#test-form button[type="submit"]');
  const interval = page.locator('[data-error-for="schedule.interval_seconds"]');
  await interval.filter({ hasText: "between 1 and 86400" }).waitFor();
  assert.ok(await page.locator("#f-interval").evaluate((el) => el.classList.contains("is-invalid")));
  const count = page.locator('fieldset[data-kind="ping"] [data-error-for="params.count"]');
  await count.filter({ hasText: "between 1 and 1000" }).waitFor();
  assert.equal(new globalThis.URL(page.url()).pathname, "/tests/new", "stayed on the form");
  await shot(page, "test-form-errors-desktop");
  assertClean(seen);
  await context.close();
});

test("editing a test changes it", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  const csrf = await csrfOf(page);
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "to edit " + Date.now(), kind: "dns", target: "example.com", schedule: { interval_seconds: 60 } },
  });
  assert.equal(created.status(), 201);
  const t = await created.json();
  await page.goto(URL + "/tests/" + t.id + "/edit");
  assert.equal(await page.inputValue("#f-target"), "example.com", "the form is filled from the test");
  assert.equal(await page.inputValue("#f-kind"), "dns");
  await page.fill("#f-target", "example.org");
  await page.selectOption("#p-dns-record_type", "AAAA");
  await Promise.all([page.waitForURL(URL + "/tests/" + t.id), page.click('#test-form button[type="submit"]')]);
  await page.locator('[data-bind="target"]').filter({ hasText: "example.org" }).waitFor();
  const after = await (await page.request.get(URL + "/api/v1/tests/" + t.id)).json();
  assert.equal(after.target, "example.org");
  assert.equal(after.params.record_type, "AAAA");
  assertClean(seen);
  await context.close();
});

test("a viewer sees no mutating controls, and a forged POST with its session is refused", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "viewer");
  await page.goto(URL + "/tests");
  assert.equal(await page.locator("#new-test").count(), 0, "no New test button");
  assert.equal(await page.locator("[data-admin-link]").count(), 0, "no admin links in the navbar");
  // A test exists (created above); its page has no Edit/Delete for a viewer.
  const list = await (await page.request.get(URL + "/api/v1/tests")).json();
  assert.ok(list.tests.length > 0);
  await page.goto(URL + "/tests/" + list.tests[0].id);
  assert.equal(await page.locator("#edit-test").count(), 0);
  assert.equal(await page.locator("[data-api-action]").count(), 0);
  // The server refuses anyway, even with the session's valid CSRF token.
  const csrf = await csrfOf(page);
  assert.ok(csrf && csrf.length > 20);
  const forged = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "forged", kind: "ping", target: "192.0.2.9", schedule: { interval_seconds: 60 } },
  });
  assert.equal(forged.status(), 403);
  const form = await page.goto(URL + "/tests/new");
  assert.equal(form.status(), 403);
  const users = await page.goto(URL + "/users");
  assert.equal(users.status(), 403);
  const after = await (await page.request.get(URL + "/api/v1/tests?search=forged")).json();
  assert.equal(after.total, 0, "nothing was created");
  assertClean(seen);
  await context.close();
});

test("a POST without the CSRF token is refused", async () => {
  const { context, page } = await newPage(browser);
  await login(page, "admin");
  const noToken = await page.request.post(URL + "/api/v1/tests", {
    data: { name: "no csrf", kind: "ping", target: "192.0.2.9", schedule: { interval_seconds: 60 } },
  });
  assert.equal(noToken.status(), 403);
  assert.match((await noToken.json()).error.message, /CSRF/);
  const wrongToken = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": "x".repeat(43) },
    data: { kind: "api", name: "no csrf" },
  });
  assert.equal(wrongToken.status(), 403);
  const logout = await page.request.post(URL + "/logout", { form: { other: "1" }, maxRedirects: 0 });
  assert.equal(logout.status(), 403, "the logout form needs its token too");
  await context.close();
});

test("an API token is shown once, with a copy button, and listed without its secret", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  await page.goto(URL + "/tokens");
  const name = "grafana " + Date.now();
  await page.fill("#t-name", name);
  await page.selectOption("#t-role", "viewer");
  await page.click('#token-form button[type="submit"]');
  const secretInput = page.locator("#new-token");
  await secretInput.waitFor({ state: "visible" });
  const secret = await secretInput.inputValue();
  assert.match(secret, /^ssw_api_/);
  assert.ok(await page.getByRole("button", { name: "Copy" }).isVisible());
  await shot(page, "tokens-created-desktop");
  // After a reload it is listed, but its secret is nowhere on the page.
  await page.reload();
  await page.getByRole("cell", { name }).waitFor();
  assert.ok(!(await page.content()).includes(secret), "the secret is not shown again");
  assert.ok(!(await page.locator("#token-secret").isVisible()));
  // Its "last used" cell follows the token's first use on the next poll, no reload.
  const tokens = await (await page.request.get(URL + "/api/v1/tokens")).json();
  const info = tokens.find((t) => t.name === name);
  const cell = `tr[data-row-id="${info.id}"] [data-field="last_used_at"]`;
  assert.equal(await page.locator(cell).textContent(), "never");
  await page.evaluate(() => { window.__notReloaded = true; });
  const me = await page.request.get(URL + "/api/v1/me", { headers: { Authorization: "Bearer " + secret } });
  assert.equal(me.status(), 200, "the token works");
  await page.waitForFunction((sel) => document.querySelector(sel).tagName === "TIME", cell, { timeout: 25_000 });
  assert.ok((await page.locator(cell).getAttribute("title")).endsWith(" UTC"));
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "updated in place");
  assertClean(seen);
  await context.close();
});

test("the enrol page creates an enrolment token and shows the exact command", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  await page.goto(URL + "/agents/enrol");
  await page.fill("#enrol-name", "lab hosts");
  await page.click('#enrol-form button[type="submit"]');
  await page.locator("#enrol-command").waitFor({ state: "visible" });
  const token = await page.inputValue("#enrol-token");
  assert.match(token, /^ssw_enr_/);
  assert.equal(await page.inputValue("#enrol-command"), `streamswarm-agent enroll --server ${URL} --token ${token}`);
  await shot(page, "enrol-created-desktop");
  assertClean(seen);
  await context.close();
});

test("a password change error is shown next to the field", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  await page.goto(URL + "/profile");
  await page.fill("#pw-current", "wrong-current-password");
  await page.fill("#pw-new", "a-new-password-123");
  await page.click('#password-form button[type="submit"]');
  await page.locator('[data-error-for="current_password"]').filter({ hasText: "is not your current password" }).waitFor();
  assertClean(seen);
  await context.close();
});

test("an admin adds a user and saves settings", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  await page.goto(URL + "/users");
  const name = "newuser" + Date.now();
  await page.fill("#u-name", name);
  await page.fill("#u-password", "short");
  await page.click('#user-form button[type="submit"]');
  await page.locator('[data-error-for="password"], #user-form [data-form-error]').filter({ hasText: /password/i }).first().waitFor();
  await page.fill("#u-password", "long-enough-password");
  await page.click('#user-form button[type="submit"]');
  await page.getByRole("cell", { name }).waitFor();
  // Change its role in place, then delete it (the confirmation dialog is accepted).
  const users = await (await page.request.get(URL + "/api/v1/users")).json();
  const created = users.find((u) => u.username === name);
  assert.equal(created.role, "viewer");
  const row = page.locator(`tr[data-row-id="${created.id}"]`);
  await row.locator("select").selectOption("operator");
  await page.getByText("Saved.").waitFor();
  assert.equal((await (await page.request.get(URL + "/api/v1/users/" + created.id)).json()).role, "operator");
  await Promise.all([page.waitForEvent("load"), row.getByRole("button", { name: "Delete" }).click()]);
  assert.ok(seen.dialogs.includes("Delete this user?"), "asked for confirmation");
  assert.equal(await page.locator(`tr[data-row-id="${created.id}"]`).count(), 0);
  assert.equal((await page.request.get(URL + "/api/v1/users/" + created.id)).status(), 404);
  await page.goto(URL + "/settings");
  await page.fill("#s-session_idle_timeout_minutes", "45");
  await page.click('#settings-form button[type="submit"]');
  await page.getByText("Settings saved.").waitFor();
  const settings = await (await page.request.get(URL + "/api/v1/settings")).json();
  assert.equal(settings.find((s) => s.key === "session_idle_timeout_minutes").value, 45);
  assertClean(seen);
  await context.close();
});

test("logout ends the session: the old cookie no longer works", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "viewer");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name.endsWith("ssw_session"));
  assert.ok(session, "a session cookie was set");
  await Promise.all([page.waitForURL(/\/login/), page.click("#logout-button")]);
  // Replay the old cookie from a clean context.
  const { context: other, page: p2 } = await newPage(browser);
  await other.addCookies([{ name: session.name, value: session.value, url: URL }]);
  const api = await p2.request.get(URL + "/api/v1/me");
  assert.equal(api.status(), 401);
  await p2.goto(URL + "/");
  assert.equal(new globalThis.URL(p2.url()).pathname, "/login");
  assertClean(seen);
  await context.close();
  await other.close();
});

test("a ping test's page charts its results per agent, updates by range, exports CSV", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "admin");
  const csrf = await csrfOf(page);
  const tok = await page.request.post(URL + "/api/v1/tokens", {
    headers: { "X-CSRF-Token": csrf }, data: { kind: "api", name: "writer", role: "operator" },
  });
  assert.equal(tok.status(), 201);
  const writer = (await tok.json()).token;
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "charted " + Date.now(), kind: "ping", target: "192.0.2.7", schedule: { interval_seconds: 60 } },
  });
  const t = await created.json();
  // Results of two agents, written as an agent would (line protocol on /write).
  const now = Date.now();
  const lines = [];
  for (let i = 1; i <= 5; i++) {
    const ts = now - i * 300_000; // 5 min apart: one per bucket in every range up to 24 h
    lines.push(`ping,agent=101,test=${t.id},target=192.0.2.7 sent=5i,received=5i,rtt_min_ms=${i},rtt_max_ms=${i + 4},rtt_p50_ms=${i + 2},loss_percent=0 ${ts}`);
    lines.push(`ping,agent=102,test=${t.id},target=192.0.2.7 sent=5i,received=4i,rtt_min_ms=${10 + i},rtt_max_ms=${20 + i},rtt_p50_ms=${15 + i},loss_percent=20 ${ts}`);
  }
  const w = await page.request.post(URL + "/write?db=d&precision=ms", {
    headers: { Authorization: "Token " + writer }, data: lines.join("\n"),
  });
  assert.equal(w.status(), 204, await w.text());
  await page.goto(URL + "/tests/" + t.id);
  await page.waitForFunction(() => Number(document.getElementById("charts").dataset.points) > 0);
  const sets = await page.evaluate(() => Chart.getChart("chart-rtt").data.datasets.map((d) => [d.label, d.data.filter((p) => p.y != null).length]));
  assert.deepEqual(sets, [
    ["agent 101 min", 5], ["agent 101 max", 5], ["agent 101 median", 5],
    ["agent 102 min", 5], ["agent 102 max", 5], ["agent 102 median", 5],
  ]);
  const loss = await page.evaluate(() => Chart.getChart("chart-loss").data.datasets.map((d) => d.data.map((p) => p.y)));
  assert.deepEqual(loss, [[0, 0, 0, 0, 0], [20, 20, 20, 20, 20]]);
  assert.ok(await page.locator("#chart-note").isHidden());
  // The table of recent results: 10 buckets (5 per agent), newest first.
  const rows = page.locator("#recent-results tbody tr");
  assert.equal(await rows.count(), 10);
  const cells = async (n) => (await rows.nth(n).locator("td").allTextContents()).slice(1);
  assert.deepEqual(await cells(0), ["agent 101", "1.00 ms", "3.00 ms", "5.00 ms", "0.00 %", "5"]);
  assert.deepEqual(await cells(1), ["agent 102", "11.00 ms", "16.00 ms", "21.00 ms", "20.00 %", "5"]);
  await shot(page, "test-detail-chart-desktop");
  // Another range: re-read in place, CSV link follows.
  await page.click('[data-range="1h"]');
  await page.waitForFunction(() => document.getElementById("charts").dataset.loaded === "1h");
  const href = await page.locator("#csv-link").getAttribute("href");
  assert.equal(href, `/api/v1/tests/${t.id}/series?range=1h&format=csv`);
  const csv = await (await page.request.get(URL + href)).text();
  assert.equal(csv.trim().split("\n").length, 11, csv);
  // The test's Grafana dashboard downloads from the page.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#grafana-link")]);
  assert.equal(download.suggestedFilename(), `streamswarm-test-${t.id}.json`);
  const dashboard = JSON.parse(await (await page.request.get(URL + `/api/v1/tests/${t.id}/grafana`)).text());
  assert.equal(dashboard.uid, `streamswarm-test-${t.id}`);
  assert.ok(dashboard.panels.length >= 2, "the ping kind's panels");
  assertClean(seen);
  await context.close();
});

test("the dashboard updates in place from its JSON endpoint, without a reload", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  await page.goto(URL + "/");
  const active = page.locator('[data-bind="tests.active"]');
  const before = Number(await active.textContent());
  // Mark the document so a reload would be noticed.
  await page.evaluate(() => { window.__notReloaded = true; });
  const csrf = await csrfOf(page);
  const created = await page.request.post(URL + "/api/v1/tests", {
    headers: { "X-CSRF-Token": csrf },
    data: { name: "live " + Date.now(), kind: "tcp", target: "192.0.2.3:443", schedule: { interval_seconds: 60 } },
  });
  assert.equal(created.status(), 201);
  // The page polls every 10 s; wait for the next poll to land.
  await page.waitForFunction((n) => Number(document.querySelector('[data-bind="tests.active"]').textContent) === n + 1, before, { timeout: 25_000 });
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "updated in place");
  assertClean(seen);
  await context.close();
});

test("an operator creates a group, assigns a test to it in the form, and deletes it; a viewer only reads", async () => {
  const { context, page, seen } = await newPage(browser);
  await login(page, "operator");
  await page.goto(URL + "/groups");
  const name = "site " + XSS + " " + Date.now();
  await page.fill("#g-name", "");
  await page.click('#group-form button[type="submit"]');
  await page.locator('#group-form [data-error-for="name"]').filter({ hasText: "1–100 characters" }).waitFor();
  await page.fill("#g-name", name);
  await page.fill("#g-description", "the lab");
  await Promise.all([page.waitForEvent("load"), page.click('#group-form button[type="submit"]')]);
  const groups = await (await page.request.get(URL + "/api/v1/groups")).json();
  const g = groups.find((x) => x.name === name);
  assert.ok(g, "created");
  const row = page.locator(`#groups-table tr[data-row-id="${g.id}"]`);
  assert.equal(await row.locator("td").first().textContent(), name, "the name as text");
  // The test form offers it; the test runs on the group.
  await page.goto(URL + "/tests/new");
  await page.fill("#f-name", "grouped " + Date.now());
  await page.selectOption("#f-kind", "dns");
  await page.fill("#f-target", "example.com");
  await page.fill("#f-interval", "60");
  await page.selectOption("#f-groups", String(g.id));
  await Promise.all([page.waitForURL(/\/tests\/\d+$/), page.click('#test-form button[type="submit"]')]);
  await page.getByText("group " + name).waitFor();
  const t = await (await page.request.get(URL + "/api/v1/tests/" + page.url().split("/").pop())).json();
  assert.deepEqual(t.assignments.groups, [g.id]);
  // A viewer sees the group but no form and no Delete.
  const { context: vc, page: vp, seen: vs } = await newPage(browser);
  await login(vp, "viewer");
  await vp.goto(URL + "/groups");
  await vp.locator(`#groups-table tr[data-row-id="${g.id}"]`).waitFor();
  assert.equal(await vp.locator("#group-form").count(), 0);
  assert.equal(await vp.locator("[data-api-action]").count(), 0);
  assertClean(vs);
  await vc.close();
  // Delete, confirmed.
  await page.goto(URL + "/groups");
  await shot(page, "groups-desktop");
  await Promise.all([page.waitForEvent("load"), row.getByRole("button", { name: "Delete" }).click()]);
  assert.ok(seen.dialogs.some((m) => m.startsWith("Delete this group?")), "asked first");
  assert.equal(await page.locator(`#groups-table tr[data-row-id="${g.id}"]`).count(), 0);
  assert.ok(!(await (await page.request.get(URL + "/api/v1/groups")).json()).some((x) => x.id === g.id));
  assertClean(seen);
  await context.close();
});

test("screenshots of every page at desktop and phone width, with no CSP violation", async () => {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    const { context, page, seen } = await newPage(browser, viewport);
    await page.goto(URL + "/login");
    await shot(page, `login-${label}`);
    await login(page, "admin");
    const tests = await (await page.request.get(URL + "/api/v1/tests")).json();
    const testId = tests.tests[0].id;
    const pages = [
      ["dashboard", "/"], ["agents", "/agents"], ["enrol", "/agents/enrol"], ["groups", "/groups"], ["tests", "/tests"],
      ["test-new", "/tests/new"], ["test-detail", `/tests/${testId}`], ["test-edit", `/tests/${testId}/edit`],
      ["users", "/users"], ["tokens", "/tokens"], ["settings", "/settings"], ["profile", "/profile"],
      ["logout", "/logout"], ["not-found", "/no-such-page"],
    ];
    for (const [name, p] of pages) {
      const resp = await page.goto(URL + p);
      assert.equal(resp.status(), name === "not-found" ? 404 : 200, p);
      await shot(page, `${name}-${label}`);
    }
    assertClean(seen);
    await context.close();
  }
});
