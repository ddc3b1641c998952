// StreamSwarm UI behaviour. No framework, no inline script (the CSP forbids it).
//  - <time datetime> / <time data-ms>: shown in the browser's time zone, UTC on hover.
//  - [data-duration] seconds in human units.
//  - form[data-api-form]: sent as JSON to the API with the session's CSRF token;
//    per-field errors (the API's details[].field) shown next to the fields.
//  - [data-api-action] buttons and [data-api-change] selects: one API call, optional
//    confirmation.
//  - [data-copy]: copies the target input's value.
//  - main[data-poll]: the page's JSON endpoint, polled every 10 s while the tab is
//    visible; [data-bind] (page-level paths) and [data-rows] > tr[data-row-id]
//    [data-field] are updated in place; rows the answer has and the table lacks unhide
//    the element named by the table's data-new-notice.
//  - #nav-insights-count: the number of open insights (X-Total-Count of
//    GET /api/v1/insights?state=open), fetched once per page.
"use strict";
(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // ---- Time and units ------------------------------------------------------------
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  function relative(ms) {
    const s = Math.round((Date.now() - ms) / 1000);
    const a = Math.abs(s);
    const unit = a < 60 ? [s, "second"] : a < 3600 ? [Math.round(s / 60), "minute"]
      : a < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
    return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(-unit[0], unit[1]);
  }
  function renderTime(el) {
    const raw = el.dataset.ms ? Number(el.dataset.ms) : Date.parse(el.getAttribute("datetime"));
    if (!Number.isFinite(raw)) return;
    const d = new Date(raw);
    el.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    el.textContent = fmt.format(d) + (Math.abs(Date.now() - raw) < 7 * 86400e3 ? " (" + relative(raw) + ")" : "");
  }
  function humanSeconds(s) {
    s = Number(s);
    if (!Number.isFinite(s)) return "";
    if (s === 0) return "0 s";
    const parts = [];
    for (const [n, u] of [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]]) {
      if (s >= n) { parts.push(Math.floor(s / n) + " " + u); s %= n; }
    }
    return parts.join(" ");
  }
  function decorate(root) {
    root.querySelectorAll("time[datetime], time[data-ms]").forEach(renderTime);
    root.querySelectorAll("[data-duration]").forEach((el) => { el.textContent = humanSeconds(el.dataset.duration); });
  }

  // ---- Flash messages ------------------------------------------------------------
  function flash(message, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    const div = document.createElement("div");
    div.className = "alert alert-" + (kind || "success") + " alert-dismissible";
    div.setAttribute("role", kind === "danger" ? "alert" : "status");
    div.textContent = message;
    const close = document.createElement("button");
    close.type = "button"; close.className = "btn-close"; close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    div.appendChild(close);
    box.replaceChildren(div);
  }

  // ---- API calls -----------------------------------------------------------------
  async function api(method, url, body) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const text = await resp.text();
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (resp.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    return { ok: resp.ok, status: resp.status, data };
  }
  function errorMessage(r) {
    if (r.status === 404) return "This action is not available on this server (404).";
    return (r.data && r.data.error && r.data.error.message) || ("Request failed (" + r.status + ")");
  }

  // ---- Forms ---------------------------------------------------------------------
  function setPath(obj, path, value) {
    const keys = path.split(".");
    let o = obj;
    for (const k of keys.slice(0, -1)) { o = o[k] = o[k] || {}; }
    o[keys[keys.length - 1]] = value;
  }
  function getPath(obj, path) {
    if (!path) return obj;
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }
  function toLocalInput(ms) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function fields(form) {
    return Array.from(form.elements).filter((el) => el.name && el.name !== "csrf_token" && !el.disabled && !el.closest("fieldset[disabled]"));
  }
  function serialize(form) {
    const out = {};
    for (const el of fields(form)) {
      const type = el.dataset.type || "text";
      let v;
      if (type === "bool") v = el.checked;
      else if (type === "int-multi") v = Array.from(el.selectedOptions).map((o) => Number(o.value));
      else if (type === "int-list") v = el.value.split(/[\s,]+/).filter(Boolean).map(Number);
      else if (type === "lines") v = el.value.split("\n").map((l) => l.trim()).filter(Boolean);
      else if (type === "int") { if (el.value.trim() === "") continue; v = Number(el.value); }
      else if (type === "datetime-ms") { if (!el.value) continue; v = new Date(el.value).getTime(); }
      else if (type === "optional") { if (el.value.trim() === "") continue; v = el.value; }
      else v = el.value;
      setPath(out, el.name, v);
    }
    return out;
  }
  function fill(form, data) {
    for (const el of fields(form)) {
      const v = getPath(data, el.name);
      if (v === undefined) continue;
      const type = el.dataset.type || "text";
      if (type === "bool") el.checked = !!v;
      else if (type === "int-multi") { const set = new Set((v || []).map(String)); Array.from(el.options).forEach((o) => { o.selected = set.has(o.value); }); }
      else if (type === "int-list") el.value = (v || []).join(", ");
      else if (type === "lines") el.value = (v || []).join("\n");
      else if (type === "datetime-ms") el.value = v == null ? "" : toLocalInput(v);
      else el.value = v == null ? "" : v;
    }
  }
  function clearErrors(form) {
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
    form.querySelectorAll("[data-error-for]").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll("[data-form-error]").forEach((el) => { el.textContent = ""; el.classList.add("d-none"); });
  }
  function showErrors(form, r) {
    const details = (r.data && r.data.error && r.data.error.details) || [];
    const unplaced = [];
    for (const d of details) {
      const slot = Array.from(form.querySelectorAll("[data-error-for]"))
        .find((el) => el.dataset.errorFor === d.field && !el.closest("fieldset[disabled]"));
      const input = fields(form).find((el) => el.name === d.field);
      if (input) input.classList.add("is-invalid");
      if (slot) { slot.textContent = d.message; slot.classList.add("d-block"); }
      else unplaced.push(d.field + ": " + d.message);
    }
    const general = details.length ? unplaced.join("; ") : errorMessage(r);
    if (general) {
      const box = form.querySelector("[data-form-error]");
      if (box) { box.textContent = general; box.classList.remove("d-none"); } else flash(general, "danger");
    }
    const first = form.querySelector(".is-invalid");
    if (first) first.focus();
  }
  function kindSwitch(form) {
    const select = form.querySelector("[data-kind-select]");
    if (!select) return;
    const defaults = form.dataset.defaults ? JSON.parse(form.dataset.defaults) : {};
    const target = form.querySelector("[data-target-input]");
    const apply = (refill) => {
      form.querySelectorAll("fieldset[data-kind]").forEach((fs) => { fs.disabled = fs.dataset.kind !== select.value; });
      const option = select.selectedOptions[0];
      if (target && option) target.placeholder = option.dataset.targetHint || "";
      if (refill && defaults[select.value]) fill(form, { params: defaults[select.value] });
    };
    select.addEventListener("change", () => apply(true));
    apply(false);
  }
  function setupForm(form) {
    if (form.dataset.initial) {
      const initial = JSON.parse(form.dataset.initial);
      const select = form.querySelector("[data-kind-select]");
      if (select && initial.kind) select.value = initial.kind;
      form.querySelectorAll("fieldset[data-kind]").forEach((fs) => { fs.disabled = select && fs.dataset.kind !== select.value; });
      fill(form, initial);
    }
    kindSwitch(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const button = form.querySelector('[type="submit"]');
      if (button) button.disabled = true;
      try {
        const r = await api(form.dataset.method || "POST", form.dataset.action, serialize(form));
        if (!r.ok) { showErrors(form, r); return; }
        if (form.dataset.showSecret) {
          const box = document.querySelector(form.dataset.showSecret);
          box.querySelector("[data-secret]").value = r.data.token;
          const cmd = box.querySelector("[data-secret-command]");
          if (cmd) cmd.value = box.dataset.template.replace("{token}", r.data.token);
          box.classList.remove("d-none");
          form.reset();
          flash("Token created. It is shown only once: copy it now.", "success");
        } else if (form.dataset.redirect) {
          location.href = form.dataset.redirect.replace("{id}", r.data && r.data.id);
        } else if (form.hasAttribute("data-reload")) {
          location.reload();
        } else {
          if (form.hasAttribute("data-reset")) form.reset();
          flash(form.dataset.saved || "Saved.", "success");
        }
      } catch (e) {
        flash("Network error: " + e.message, "danger");
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  // ---- Buttons, selects, copy -----------------------------------------------------
  async function act(el, body) {
    if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return false;
    const r = await api(el.dataset.method || "POST", el.dataset.url, body);
    if (!r.ok) { flash(errorMessage(r), "danger"); return false; }
    if (el.dataset.redirect) location.href = el.dataset.redirect;
    else if (el.hasAttribute("data-reload")) location.reload();
    else flash("Done.", "success");
    return true;
  }
  function setup(root) {
    root.querySelectorAll("form[data-api-form]").forEach(setupForm);
    root.querySelectorAll("[data-api-action]").forEach((b) => b.addEventListener("click", (ev) => {
      ev.preventDefault();
      act(b, b.dataset.body ? JSON.parse(b.dataset.body) : undefined);
    }));
    root.querySelectorAll("[data-api-change]").forEach((s) => {
      let previous = s.value;
      s.addEventListener("change", async () => {
        const ok = await act(s, { [s.dataset.key]: s.value });
        if (ok) { previous = s.value; flash("Saved.", "success"); } else s.value = previous;
      });
    });
    root.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", async () => {
      const input = document.querySelector(b.dataset.copy);
      try { await navigator.clipboard.writeText(input.value); }
      catch (_) { input.select(); document.execCommand("copy"); }
      b.textContent = "Copied";
    }));
  }

  // ---- Live updates --------------------------------------------------------------
  function bindValue(el, v, key) {
    if (v == null) return; // absent or null: keep what the server rendered ("never", "unknown")
    const text = String(v);
    if (el.tagName !== "TIME" && /_at$/.test(key || "")) {
      // A timestamp that was "never" until now: becomes a <time>.
      const t = document.createElement("time");
      for (const a of el.attributes) t.setAttribute(a.name, a.value);
      el.replaceWith(t);
      el = t;
    }
    if (el.tagName === "TIME") { el.setAttribute("datetime", text); renderTime(el); return; }
    el.textContent = text;
    if (el.hasAttribute("data-status")) el.dataset.status = text;
  }
  async function poll(main) {
    if (document.hidden) return;
    let resp;
    try { resp = await fetch(main.dataset.poll, { headers: { Accept: "application/json" }, credentials: "same-origin" }); }
    catch (_) { return; }
    if (resp.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); return; }
    if (!resp.ok) return;
    const data = await resp.json();
    main.querySelectorAll("[data-bind]").forEach((el) => { if (!el.closest("[data-rows]")) bindValue(el, getPath(data, el.dataset.bind), el.dataset.bind); });
    main.querySelectorAll("[data-rows]").forEach((tbody) => {
      const rows = getPath(data, tbody.dataset.rows);
      if (!Array.isArray(rows)) return;
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      const shown = new Set();
      tbody.querySelectorAll("tr[data-row-id]").forEach((tr) => {
        shown.add(tr.dataset.rowId);
        const r = byId.get(tr.dataset.rowId);
        if (!r) return;
        tr.querySelectorAll("[data-field]").forEach((el) => bindValue(el, r[el.dataset.field], el.dataset.field));
      });
      const notice = tbody.dataset.newNotice && document.getElementById(tbody.dataset.newNotice);
      if (notice && rows.some((r) => !shown.has(String(r.id)))) notice.classList.remove("d-none");
    });
    document.dispatchEvent(new CustomEvent("ssw:polled", { detail: data }));
  }

  // ---- Open insights in the navbar ------------------------------------------------
  async function insightCount(badge) {
    try {
      const resp = await fetch("/api/v1/insights?state=open&limit=1", { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const n = Number(resp.ok ? resp.headers.get("X-Total-Count") : NaN);
      if (!Number.isFinite(n) || n <= 0) return;
      badge.textContent = String(n);
      badge.title = n + (n === 1 ? " open insight" : " open insights");
      badge.classList.remove("d-none");
    } catch (_) { /* the count is a hint: no badge */ }
  }

  document.addEventListener("DOMContentLoaded", () => {
    decorate(document);
    setup(document);
    const badge = document.getElementById("nav-insights-count");
    if (badge) insightCount(badge);
    const main = document.querySelector("main[data-poll]");
    if (main) {
      setInterval(() => poll(main), 10000);
      document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(main); });
    }
  });
})();
