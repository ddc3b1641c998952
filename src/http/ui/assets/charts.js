// Result charts: on a test page the charts its kind declares (`[[charts]]` in
// schema/kinds/<kind>.toml, e.g. ping's min–max RTT band with the median line and loss
// bars), one series per agent, over a selectable range, from
// GET /api/v1/tests/{id}/series; the agent page's host charts the same way; the
// dashboard's fleet RTT band. Refreshed in place every 10 s while the tab is visible.
// Every chart shades the analytics insights of its answer (`insights`: a window from
// start to resolution, or to the range's end while open), and an insight's page draws
// its evidence: the series, the forecast band, the anomalous points and the window,
// from GET /api/v1/tests/{id}/forecast. A test page's capacity form charts the answer of
// GET /api/v1/tests/{id}/trend.
"use strict";
(function () {
  const PALETTE = ["#4dabf7", "#ffa94d", "#69db7c", "#f783ac", "#b197fc", "#ffd43b", "#63e6be", "#ff8787"];
  const SEVERITY = { warning: "#ffd43b", critical: "#ff6b6b" };
  const alpha = (hex, a) => hex + Math.round(a * 255).toString(16).padStart(2, "0");
  const name = (s) => s.agent_name ? s.agent_name : "agent " + s.agent;

  // Time windows shaded behind the lines: a dataset with `windowBox: { from, to }` (Unix
  // ms) has no points; this plugin fills its span over the chart's height in its
  // backgroundColor while the dataset is visible (its legend entry toggles it).
  const windowBoxes = {
    id: "windowBoxes",
    beforeDatasetsDraw(chart) {
      const x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      if (!x || !area) return;
      chart.data.datasets.forEach((d, i) => {
        if (!d.windowBox || !chart.isDatasetVisible(i)) return;
        const left = Math.max(area.left, x.getPixelForValue(d.windowBox.from));
        const right = Math.min(area.right, x.getPixelForValue(d.windowBox.to));
        if (!(right > left)) return;
        ctx.save();
        ctx.fillStyle = d.backgroundColor;
        ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
        ctx.restore();
      });
    },
  };
  // A window dataset: drawn by the plugin above, a line dataset with no points so it
  // takes no bar slot and moves no scale.
  function windowSet(label, from, to, colour, legend) {
    return { type: "line", label, data: [], windowBox: { from, to }, legend: !!legend, backgroundColor: alpha(colour, 0.15), borderColor: colour, borderWidth: 1, pointRadius: 0 };
  }
  // The insights of a series answer as windows (open ones up to the range's end).
  function insightWindows(insights, end) {
    return (insights || []).map((i) => windowSet("insight " + i.id + ": " + i.summary, i.started_at, i.resolved_at == null ? end : i.resolved_at, SEVERITY[i.severity] || SEVERITY.warning, false));
  }
  // The insights of a series answer as a list of links under the charts (text only:
  // summaries are data).
  function insightList(el, insights) {
    if (!el) return;
    const list = insights || [];
    const items = list.map((i) => {
      const li = document.createElement("li");
      const badge = document.createElement("span");
      badge.className = "badge severity me-1";
      badge.dataset.severity = i.severity;
      badge.textContent = i.severity;
      const a = document.createElement("a");
      a.href = "/insights/" + i.id;
      a.textContent = i.summary;
      const when = document.createElement("span");
      when.className = "text-body-secondary ms-1";
      const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
      when.textContent = fmt.format(new Date(i.started_at)) + (i.resolved_at == null ? " – ongoing" : " – " + fmt.format(new Date(i.resolved_at)));
      li.append(badge, a, when);
      return li;
    });
    const ul = el.querySelector("ul");
    if (ul) ul.replaceChildren(...items);
    el.classList.toggle("d-none", list.length === 0);
  }

  function rttDatasets(series) {
    const out = [];
    series.forEach((s, i) => {
      const c = PALETTE[i % PALETTE.length];
      out.push({ label: name(s) + " min", data: s.points.map((p) => ({ x: p.t, y: p.min })), borderWidth: 0, pointRadius: 0, fill: false, borderColor: alpha(c, 0.3) });
      out.push({ label: name(s) + " max", data: s.points.map((p) => ({ x: p.t, y: p.max })), borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: alpha(c, 0.25), borderColor: alpha(c, 0.3) });
      out.push({ label: name(s) + " median", data: s.points.map((p) => ({ x: p.t, y: p.p50 })), borderWidth: 2, pointRadius: 0, borderColor: c, backgroundColor: c, fill: false });
    });
    return out;
  }
  function lossDatasets(series) {
    return series.map((s, i) => ({
      label: name(s), data: s.points.map((p) => ({ x: p.t, y: p.loss })),
      backgroundColor: PALETTE[i % PALETTE.length], borderWidth: 0,
    }));
  }
  function options(unit, min, max, yMax) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: true, normalized: true,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: { type: "time", min, max, grid: { color: "#ffffff14" } },
        y: { beginAtZero: true, max: yMax, title: { display: true, text: unit }, grid: { color: "#ffffff14" } },
      },
      plugins: {
        legend: { labels: { filter: (item, chart) => {
          const d = chart.datasets[item.datasetIndex];
          return !d.band && (!d.windowBox || d.legend) && !/ (min|max)$/.test(item.text);
        } } },
        tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + (c.parsed.y == null ? "–" : c.parsed.y.toFixed(2) + " " + unit) } },
      },
    };
  }

  // Byte rates are shown in Mbit/s.
  const scale = (unit) => unit === "bytes/s" ? [8 / 1e6, "Mbit/s"] : [1, unit];

  // Chart.js datasets of one panel (see `Panel` in src/http/api/series.rs): a band's
  // series draw their first field as the lower edge, their last as the upper edge
  // (filled to the lower), the fields between as lines; bars and stacked bars (one
  // stack per series) otherwise.
  function panelDatasets(panel) {
    const [factor] = scale(panel.unit);
    const pts = (l) => l.points.map((p) => ({ x: p.t, y: p.v == null ? null : p.v * factor }));
    const seriesOf = [...new Set(panel.lines.map((l) => l.series))];
    // Bands: one colour per series. Stacks: one colour per field, the same in every
    // series' stack. Lines: one per line.
    const fieldIndex = (l) => panel.lines.filter((o) => o.series === l.series).indexOf(l);
    const colour = (l, i) => PALETTE[(panel.style === "band" ? seriesOf.indexOf(l.series) : panel.style === "stacked" ? fieldIndex(l) : i) % PALETTE.length];
    // A value with no neighbour draws no line segment: it gets a dot, or it would not show.
    const isolated = (ctx) => {
      const d = ctx.dataset.data, i = ctx.dataIndex;
      return d[i]?.y != null && d[i - 1]?.y == null && d[i + 1]?.y == null ? 2 : 0;
    };
    if (panel.style === "band") {
      const out = [];
      seriesOf.forEach((s) => {
        const lines = panel.lines.filter((l) => l.series === s);
        const c = colour(lines[0], 0);
        const lower = lines[0], upper = lines[lines.length - 1];
        out.push({ label: lower.label, data: pts(lower), borderWidth: 0, pointRadius: 0, fill: false, borderColor: alpha(c, 0.3), band: true });
        out.push({ label: upper.label, data: pts(upper), borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: alpha(c, 0.25), borderColor: alpha(c, 0.3), band: true });
        lines.slice(1, -1).forEach((l) => out.push({ label: l.label, data: pts(l), borderWidth: 2, pointRadius: isolated, borderColor: c, backgroundColor: c, fill: false }));
      });
      return out;
    }
    return panel.lines.map((l, i) => {
      const c = colour(l, i);
      const set = { label: l.label, data: pts(l), backgroundColor: c, borderColor: c, borderWidth: panel.style === "line" ? 2 : 0, pointRadius: panel.style === "line" ? isolated : 0 };
      if (panel.style === "stacked") set.stack = l.series;
      return set;
    });
  }

  // Draws (or refreshes in place) every panel of `data` into `holder`, a canvas
  // `chart-<key>` each; returns the number of points drawn.
  function renderPanels(holder, data, charts, small) {
    let points = 0;
    for (const panel of data.panels) {
      const [, unit] = scale(panel.unit);
      const sets = panelDatasets(panel).concat(insightWindows(data.insights, data.end));
      points += panel.lines.reduce((n, l) => n + l.points.length, 0);
      let chart = charts.get(panel.key);
      if (!chart) {
        const col = document.createElement("div");
        col.className = small ? "col-12 col-lg-6" : "col-12";
        const title = document.createElement("h3");
        title.className = "h6 mt-2";
        title.textContent = panel.title;
        const wrap = document.createElement("div");
        wrap.className = panel.style === "band" || panel.style === "line" && !small ? "chart-box" : "chart-box chart-box-small";
        const canvas = document.createElement("canvas");
        canvas.id = holder.dataset.prefix + panel.key;
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", panel.title);
        wrap.appendChild(canvas);
        const empty = document.createElement("p");
        empty.className = "small text-body-secondary mb-1 d-none";
        empty.dataset.empty = panel.key;
        empty.textContent = "No values in this range.";
        col.append(title, empty, wrap);
        holder.appendChild(col);
        const type = panel.style === "bar" || panel.style === "stacked" ? "bar" : "line";
        const opts = options(unit, data.start, data.end, unit === "%" ? 100 : undefined);
        if (panel.style === "stacked") { opts.scales.x.stacked = true; opts.scales.y.stacked = true; }
        chart = new Chart(canvas, { type, data: { datasets: sets }, options: opts });
        charts.set(panel.key, chart);
      } else {
        chart.data.datasets = sets;
        chart.options.scales.x.min = data.start;
        chart.options.scales.x.max = data.end;
        chart.update("none");
      }
      // A chart with nothing to draw in the range says so (e.g. connection set-up of a
      // DNS test over UDP).
      const hasValues = panel.lines.some((l) => l.points.some((p) => p.v != null));
      holder.querySelector(`[data-empty="${panel.key}"]`)?.classList.toggle("d-none", hasValues);
    }
    return points;
  }

  // Host metrics of an agent (agent page): the charts the host kind declares, from
  // GET /api/v1/agents/{id}/series.
  function hostCharts(box) {
    if (!box) return;
    const url = box.dataset.seriesUrl;
    const holder = box.querySelector("[data-panels]");
    const note = box.querySelector("[data-note]");
    let range = box.dataset.range || "24h";
    const charts = new Map();
    async function load() {
      const resp = await fetch(url + "?range=" + encodeURIComponent(range), { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) { note.textContent = "Cannot load host metrics (" + resp.status + ")."; note.classList.remove("d-none"); return; }
      const data = await resp.json();
      const points = renderPanels(holder, data, charts, true);
      insightList(box.querySelector("[data-insight-list]"), data.insights);
      note.classList.toggle("d-none", points > 0);
      box.dataset.points = String(points);
      box.dataset.loaded = range;
    }
    box.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => {
      range = b.dataset.range;
      box.querySelectorAll("[data-range]").forEach((o) => o.classList.toggle("active", o === b));
      load();
    }));
    load();
    setInterval(() => { if (!document.hidden) load(); }, 10000);
  }

  // An insight's evidence (its page): one series of `data-url`'s forecast answer — the
  // forecast band (drawn as a kind's band panel is: lower edge, expected line, upper
  // edge), the observed values, the anomalous points, and the insight's window from
  // data-window-from to data-window-to (or the range's end while open).
  async function evidenceChart(box) {
    const note = box.parentElement.querySelector("[data-note]");
    const say = (text) => { if (note) { note.textContent = text; note.classList.toggle("d-none", !text); } };
    let chart = null;
    async function load() {
      let resp;
      try { resp = await fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" }); }
      catch (e) { say("Cannot load the series: " + e.message); box.dataset.loaded = "error"; return; }
      if (!resp.ok) {
        let why = "";
        try { why = (await resp.json()).error.message; } catch (_) { /* not JSON */ }
        say("Cannot load the series (" + resp.status + ")" + (why ? ": " + why : "."));
        box.dataset.loaded = "error";
        return;
      }
      const f = await resp.json();
      const line = (label, field) => ({ label, series: "forecast", field, points: f.points.map((p) => ({ t: p.t, v: p[field] })) });
      const band = { key: "forecast", title: "forecast", unit: f.unit, style: "band", lines: [line("forecast lower", "lower"), line("forecast", "expected"), line("forecast upper", "upper")] };
      const sets = f.points.length ? panelDatasets(band) : [];
      sets.forEach((d) => { if (!d.band) d.borderDash = [6, 4]; });
      sets.push({ label: "observed", data: f.observed.map((p) => ({ x: p.t, y: p.v })), borderColor: PALETTE[1], backgroundColor: PALETTE[1], borderWidth: 2, pointRadius: 0, fill: false });
      const c = SEVERITY[box.dataset.severity] || SEVERITY.warning;
      sets.push({ label: "anomalous", data: f.anomalies.map((a) => ({ x: a.t, y: a.observed })), showLine: false, pointRadius: 3, borderColor: SEVERITY.critical, backgroundColor: SEVERITY.critical });
      const to = box.dataset.windowTo ? Number(box.dataset.windowTo) : f.end;
      sets.push(windowSet("insight window", Number(box.dataset.windowFrom), to, c, true));
      const [, unit] = scale(f.unit);
      if (!chart) {
        chart = new Chart(box.querySelector("canvas"), { type: "line", data: { datasets: sets }, options: options(unit, f.start, f.end, unit === "%" ? 100 : undefined) });
      } else {
        chart.data.datasets = sets;
        chart.update("none");
      }
      const empty = f.observed.length === 0 && f.points.length === 0;
      say(empty ? "No values of this series in the range (the time-series store may have aged them out)." : f.points.length === 0 ? "No forecast was recorded for this range." : "");
      box.dataset.points = String(f.observed.length);
      box.dataset.forecast = String(f.points.length);
      box.dataset.anomalies = String(f.anomalies.length);
      box.dataset.loaded = "ok";
    }
    await load();
    // An open insight's window grows: refresh while it is open and the tab visible.
    if (!box.dataset.windowTo) setInterval(() => { if (!document.hidden) load(); }, 10000);
  }

  // The capacity form on a test page: GET /api/v1/tests/{id}/trend with the form's
  // fields; the answer's sentence, and its chart — the hourly history, the forecast band
  // and the threshold, the crossing interval shaded.
  function trendForm(box) {
    const form = box && box.querySelector("#trend-form");
    if (!form) return;
    const answer = box.querySelector("#trend-answer");
    const holder = box.querySelector("#trend-chart");
    let chart = null;
    const say = (text, bad) => {
      answer.textContent = text;
      answer.classList.toggle("d-none", !text);
      answer.classList.toggle("text-danger", !!bad);
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams(new FormData(form));
      say("Forecasting…");
      box.dataset.loaded = "";
      let resp;
      try { resp = await fetch(box.dataset.url + "?" + q, { headers: { Accept: "application/json" }, credentials: "same-origin" }); }
      catch (e) { say("Cannot forecast: " + e.message, true); box.dataset.loaded = "error"; return; }
      if (!resp.ok) {
        let why = "";
        try { why = (await resp.json()).error.message; } catch (_) { /* not JSON */ }
        say("Cannot forecast (" + resp.status + ")" + (why ? ": " + why : "."), true);
        holder.classList.add("d-none");
        box.dataset.loaded = "error";
        return;
      }
      const f = await resp.json();
      say(f.summary, false);
      const band = { key: "trend", title: "forecast", unit: f.unit, style: "band", lines: [
        { label: "forecast lower", series: "forecast", points: f.forecast.map((p) => ({ t: p.t, v: p.lower })) },
        { label: "forecast", series: "forecast", points: f.forecast.map((p) => ({ t: p.t, v: p.expected })) },
        { label: "forecast upper", series: "forecast", points: f.forecast.map((p) => ({ t: p.t, v: p.upper })) }] };
      const [factor, unit] = scale(f.unit);
      const sets = panelDatasets(band);
      sets.forEach((d) => { if (!d.band) d.borderDash = [6, 4]; });
      sets.push({ label: "hourly mean", data: f.history.map((p) => ({ x: p.t, y: p.v == null ? null : p.v * factor })), borderColor: PALETTE[1], backgroundColor: PALETTE[1], borderWidth: 2, pointRadius: 0, fill: false, spanGaps: false });
      // From the first hour with a value (the history read may start before the series).
      const first = f.history.find((p) => p.v != null);
      const start = first ? first.t : f.forecast[0].t;
      const end = f.forecast.length ? f.forecast[f.forecast.length - 1].t : start;
      sets.push({ label: "threshold " + f.threshold + " " + f.unit, data: [{ x: start, y: f.threshold * factor }, { x: end, y: f.threshold * factor }], borderColor: SEVERITY.critical, backgroundColor: SEVERITY.critical, borderWidth: 1, pointRadius: 0, fill: false });
      const c = f.crossing;
      if (c.earliest != null) sets.push(windowSet("crossing interval", c.earliest, c.latest == null ? end : c.latest, SEVERITY.warning, true));
      holder.classList.remove("d-none");
      if (chart) chart.destroy();
      chart = new Chart(holder.querySelector("canvas"), { type: "line", data: { datasets: sets }, options: options(unit, start, end) });
      box.dataset.history = String(f.history.filter((p) => p.v != null).length);
      box.dataset.forecast = String(f.forecast.length);
      box.dataset.loaded = "ok";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (typeof Chart === "undefined") return;
    Chart.defaults.color = "#adb5bd"; // readable on the dark theme
    Chart.register(windowBoxes);
    document.querySelectorAll("[data-evidence]").forEach(evidenceChart);
    trendForm(document.getElementById("trend"));
    hostCharts(document.getElementById("host-charts"));
    const box = document.getElementById("charts");
    if (!box) return;
    const url = box.dataset.seriesUrl;
    const note = document.getElementById("chart-note");
    const csv = document.getElementById("csv-link");
    let range = box.dataset.range || "24h";
    let rtt = null, loss = null;
    const holder = box.querySelector("[data-panels]"); // a test page: the kind's charts
    const panelCharts = new Map();

    let custom = null; // { from, to } in Unix ms when a custom range is applied
    const query = () => range === "custom" ? "from=" + custom.from + "&to=" + custom.to : "range=" + encodeURIComponent(range);

    async function load() {
      const resp = await fetch(url + "?" + query(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!resp.ok) {
        let why = "";
        try { why = (await resp.json()).error.message; } catch (_) { /* not JSON */ }
        note.textContent = "Cannot load results (" + resp.status + ")" + (why ? ": " + why : ".");
        note.classList.remove("d-none");
        box.dataset.loaded = "error";
        return;
      }
      const data = await resp.json();
      box.dataset.loaded = range;
      if (csv) csv.href = url + "?" + query() + "&format=csv";
      let points = data.series.reduce((n, s) => n + s.points.length, 0);
      if (holder) points = renderPanels(holder, data, panelCharts, false);
      if (data.note || points === 0) {
        note.textContent = data.note || box.dataset.emptyNote || "No results in this range yet. Results appear once an agent assigned to this test runs it.";
        note.classList.remove("d-none");
      } else {
        note.classList.add("d-none");
      }
      const windows = insightWindows(data.insights, data.end);
      const rttSets = rttDatasets(data.series).concat(windows), lossSets = lossDatasets(data.series).concat(insightWindows(data.insights, data.end));
      if (holder) {
        // Drawn above from the kind's declared charts.
      } else if (!rtt) {
        rtt = new Chart(document.getElementById("chart-rtt"), { type: "line", data: { datasets: rttSets }, options: options("ms", data.start, data.end) });
        loss = new Chart(document.getElementById("chart-loss"), { type: "bar", data: { datasets: lossSets }, options: options("%", data.start, data.end, 100) });
      } else {
        for (const [chart, sets] of [[rtt, rttSets], [loss, lossSets]]) {
          chart.data.datasets = sets;
          chart.options.scales.x.min = data.start;
          chart.options.scales.x.max = data.end;
          chart.update("none");
        }
      }
      box.dataset.points = String(points);
      box.dataset.insights = String((data.insights || []).length);
      insightList(box.querySelector("[data-insight-list]"), data.insights);
      recentTable(data);
    }

    // The newest buckets of every agent, newest first (text only: names are user input).
    function recentTable(data) {
      const tbody = document.querySelector("#recent-results tbody");
      if (!tbody) return;
      const rows = [];
      for (const s of data.series) for (const p of s.points) rows.push([p.t, name(s), p]);
      rows.sort((a, b) => b[0] - a[0]);
      const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
      const num = (v, unit) => v == null ? "–" : v.toFixed(2) + " " + unit;
      tbody.replaceChildren(...rows.slice(0, 20).map(([t, agent, p]) => {
        const tr = document.createElement("tr");
        const cells = [fmt.format(new Date(t)), agent, num(p.min, "ms"), num(p.p50, "ms"), num(p.max, "ms"), num(p.loss, "%"), p.sent == null ? "–" : String(p.sent)];
        cells.forEach((text, i) => {
          const td = document.createElement("td");
          td.textContent = text;
          if (i === 0) td.title = new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
          tr.appendChild(td);
        });
        return tr;
      }));
      document.getElementById("recent-results").classList.toggle("d-none", rows.length === 0);
    }

    box.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => {
      range = b.dataset.range;
      box.querySelectorAll("[data-range]").forEach((o) => o.classList.toggle("active", o === b));
      load();
    }));
    // A custom range: the server validates it (and says what is wrong).
    const customForm = document.getElementById("custom-range");
    if (customForm) customForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const ms = (id) => { const v = document.getElementById(id).value; return v ? new Date(v).getTime() : ""; };
      custom = { from: ms("range-from"), to: ms("range-to") };
      range = "custom";
      box.querySelectorAll("[data-range]").forEach((o) => o.classList.remove("active"));
      load();
    });
    load();
    setInterval(() => { if (!document.hidden) load(); }, 10000);
  });
})();
