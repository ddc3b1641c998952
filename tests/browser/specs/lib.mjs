// Shared helpers of the browser specs: the browser, signing in, CSP-violation and
// dialog watchers, screenshots.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

export const URL = process.env.SSW_URL;
export const PASSWORDS = {
  admin: process.env.SSW_ADMIN_PASSWORD,
  operator: process.env.SSW_OPERATOR_PASSWORD,
  viewer: process.env.SSW_VIEWER_PASSWORD,
};
if (!URL || !PASSWORDS.admin) {
  throw new Error("run the specs with tests/browser/run.sh (SSW_URL and passwords unset)");
}

export const DESKTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.SSW_CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A fresh context (own cookies) with a page that records dialogs, CSP violations and
 *  page errors, so a spec can assert none happened. */
export async function newPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const seen = { dialogs: [], cspViolations: [], errors: [] };
  page.on("dialog", async (d) => {
    seen.dialogs.push(d.message());
    // Confirmation dialogs of our own buttons are accepted; anything else dismissed.
    if (d.type() === "confirm") await d.accept(); else await d.dismiss();
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) seen.cspViolations.push(m.text());
  });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  return { context, page, seen };
}

export async function login(page, user, password = PASSWORDS[user]) {
  await page.goto(URL + "/login");
  await page.fill("#username", user);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click('main button[type="submit"]')]);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(process.env.SSW_SCREENSHOTS, name + ".png"), fullPage: true });
}

export function assertClean(seen) {
  assert.deepEqual(seen.cspViolations, [], "no Content-Security-Policy violations");
  assert.deepEqual(seen.errors, [], "no JavaScript errors");
}

/** The session's CSRF token, as our JavaScript reads it. */
export async function csrfOf(page) {
  return page.locator('meta[name="csrf-token"]').getAttribute("content");
}
