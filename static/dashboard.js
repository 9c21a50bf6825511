/* LogDig dashboard: fetches /api/* (the JSON twins of the reports) and draws them.
 * Every string shown came from the internet: it goes into the page as text (textContent, or a
 * Chart.js label drawn on a canvas), never as HTML; only http(s) URLs ever become links.
 * The whole view lives in the URL (site, range, tz, compare, bots, filters, funnel steps, heatmap
 * page).
 */
(function () {
  "use strict";

  var STATE_KEYS = ["site", "range", "from", "to", "tz", "compare", "include_bots", "page", "referrer", "steps", "heatmap"];
  var REALTIME_MS = 10000;
  var COLORS = { views: "#4f46e5", visitors: "#0ea5e9", previous: "#a5b4fc", bars: "#6366f1" };
  var charts = {};
  var view = null; // the resolved range of the current state
  var realtimeTimer = null;
  var loadToken = 0;

  // ---------- state in the URL ----------
  function readState() {
    var params = new URLSearchParams(location.search);
    var state = {};
    STATE_KEYS.forEach(function (k) { state[k] = params.get(k) || ""; });
    state.range = state.range || "7d";
    state.tz = state.tz || document.body.dataset.defaultTz || "UTC";
    return state;
  }

  function writeState(state, replace) {
    var params = new URLSearchParams();
    STATE_KEYS.forEach(function (k) { if (state[k]) params.set(k, state[k]); });
    var url = location.pathname + (params.toString() ? "?" + params.toString() : "");
    if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  }

  function update(changes) {
    var state = readState();
    Object.keys(changes).forEach(function (k) { state[k] = changes[k]; });
    writeState(state, false);
    load();
  }

  // ---------- helpers ----------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "") q.set(k, params[k]);
    });
    return q.toString();
  }

  function api(path, params) {
    return fetch(path + "?" + query(params || {}), { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          var e = body && body.error ? body.error : {};
          throw new Error((e.field ? e.field + ": " : "") + (e.message || r.statusText));
        }
        return body;
      });
    });
  }

  function isHttpUrl(text) { return /^https?:\/\//i.test(String(text || "")); }

  var numberFormat = new Intl.NumberFormat();
  function fmtNumber(v) { return v === null || v === undefined ? "–" : numberFormat.format(v); }
  function fmtPercent(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    var s = Math.round(seconds);
    var m = Math.floor(s / 60);
    return m ? m + "m " + String(s % 60).padStart(2, "0") + "s" : s + "s";
  }
  function fmtMs(ms) { return ms === null || ms === undefined ? "–" : fmtDuration(ms / 1000); }

  function timeFormatter(options) {
    try { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: readState().tz }, options)); }
    catch (e) { return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: "UTC" }, options)); }
  }
  function fmtClock(iso) { return iso ? timeFormatter({ hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(iso)) : "–"; }
  function fmtBucket(iso, bucket) {
    var options = bucket === "day" ? { month: "short", day: "numeric" }
      : bucket === "hour" ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false }
      : { hour: "2-digit", minute: "2-digit", hour12: false };
    return timeFormatter(options).format(new Date(iso));
  }

  function showError(message) {
    var box = document.getElementById("error");
    box.hidden = !message;
    box.textContent = message || "";
  }

  // ---------- filters shared by every panel ----------
  function filters(state) {
    return { site: state.site, page: state.page, referrer: state.referrer, tz: state.tz,
      include_bots: state.include_bots ? "1" : "" };
  }
  function rangeParams(state) {
    return Object.assign({ from: view.from, to: view.to }, filters(state));
  }

  // ---------- top bar ----------
  function initControls() {
    var zones = document.getElementById("zones");
    var names = (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]);
    ["UTC"].concat(names).forEach(function (name) { zones.appendChild(el("option")).value = name; });
    document.getElementById("range").addEventListener("change", function (e) {
      var state = readState();
      if (e.target.value === "custom") {
        document.getElementById("custom").hidden = false;
        update({ range: "custom", from: state.from || view.from.slice(0, 10), to: state.to || view.to.slice(0, 10) });
      } else {
        update({ range: e.target.value, from: "", to: "" });
      }
    });
    ["from", "to"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", function (e) {
        var change = { range: "custom" }; change[id] = e.target.value; update(change);
      });
    });
    document.getElementById("tz").addEventListener("change", function (e) {
      if (e.target.value) update({ tz: e.target.value.trim() });
    });
    document.getElementById("site").addEventListener("change", function (e) { update({ site: e.target.value }); });
    document.getElementById("compare").addEventListener("change", function (e) { update({ compare: e.target.checked ? "1" : "" }); });
    document.getElementById("bots").addEventListener("change", function (e) { update({ include_bots: e.target.checked ? "1" : "" }); });
    document.getElementById("funnel-form").addEventListener("submit", function (e) {
      e.preventDefault();
      update({ steps: document.getElementById("steps").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean).join(",") });
    });
    document.getElementById("heatmap-page").addEventListener("change", function (e) { update({ heatmap: e.target.value }); });
    document.getElementById("copy-snippet").addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(document.getElementById("snippet").textContent);
    });
    window.addEventListener("popstate", load);
  }

  function syncControls(state) {
    document.getElementById("range").value = state.range;
    document.getElementById("custom").hidden = state.range !== "custom";
    document.getElementById("from").value = state.range === "custom" ? (state.from || view.from.slice(0, 10)) : "";
    document.getElementById("to").value = state.range === "custom" ? (state.to || view.to.slice(0, 10)) : "";
    document.getElementById("tz").value = state.tz;
    document.getElementById("compare").checked = !!state.compare;
    document.getElementById("bots").checked = !!state.include_bots;
    document.getElementById("steps").value = state.steps.split(",").filter(Boolean).join(", ");
    var bar = document.getElementById("filters");
    bar.replaceChildren();
    [["page", "Page"], ["referrer", "Referrer"]].forEach(function (f) {
      if (!state[f[0]]) return;
      var chip = el("span", "chip");
      chip.appendChild(el("span", "chip-label", f[1]));
      chip.appendChild(el("span", "chip-value", state[f[0]]));
      var remove = el("button", "chip-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + f[1].toLowerCase() + " filter");
      remove.addEventListener("click", function () { var c = {}; c[f[0]] = ""; update(c); });
      chip.appendChild(remove);
      bar.appendChild(chip);
    });
    bar.hidden = !bar.children.length;
  }

  function fillSites(rows, current) {
    var select = document.getElementById("site");
    select.replaceChildren(el("option", "", "All sites"));
    select.firstChild.value = "";
    var names = rows.map(function (r) { return r.site; });
    if (current && names.indexOf(current) < 0) names.unshift(current);
    names.forEach(function (name) { var o = el("option", "", name); o.value = name; select.appendChild(o); });
    select.value = current || "";
    document.body.classList.toggle("one-site", !!current || names.length <= 1);
  }

  // ---------- tiles ----------
  var TILES = [
    ["visitors", "Visitors", fmtNumber, 1], ["visits", "Visits", fmtNumber, 1],
    ["page_views", "Page views", fmtNumber, 1], ["views_per_visit", "Views per visit", fmtNumber, 1],
    ["bounce_rate", "Bounce rate", fmtPercent, -1], ["avg_visit_seconds", "Visit duration", fmtDuration, 1],
    ["conversions", "Conversions", fmtNumber, 1], ["conversion_rate", "Conversion rate", fmtPercent, 1],
    ["current_visitors", "Current visitors", fmtNumber, 0]
  ];

  function renderTiles(summary, compare) {
    var box = document.getElementById("tiles");
    box.replaceChildren();
    TILES.forEach(function (t) {
      var tile = el("div", "tile" + (t[0] === "current_visitors" ? " tile-live" : ""));
      tile.dataset.key = t[0];
      tile.appendChild(el("div", "tile-label", t[1]));
      var value = el("div", "tile-value", t[2](summary[t[0]]));
      value.dataset.value = summary[t[0]] === null ? "" : String(summary[t[0]]);
      tile.appendChild(value);
      var prev = summary.previous ? summary.previous[t[0]] : null;
      if (compare && t[3] && prev !== null && prev !== undefined) {
        var cur = summary[t[0]] || 0;
        var text, cls = "delta";
        if (prev === 0) { text = cur === 0 ? "±0%" : "new"; }
        else if (Math.abs((cur - prev) / prev) < 0.005) { text = "±0%"; }
        else {
          var change = (cur - prev) / prev;
          text = (change >= 0 ? "▲ " : "▼ ") + Math.abs(change * 100).toFixed(0) + "%";
          cls += change * t[3] > 0 ? " up" : change * t[3] < 0 ? " down" : "";
        }
        var delta = el("div", cls, text);
        delta.title = "previous period: " + t[2](prev);
        tile.appendChild(delta);
      } else if (t[0] === "current_visitors") {
        tile.appendChild(el("div", "delta muted", "last 5 minutes"));
      }
      box.appendChild(tile);
    });
  }

  // ---------- traffic chart ----------
  function renderTraffic(rows, previousRows) {
    var labels = rows.map(function (r) { return fmtBucket(r.bucket_start, view.bucket); });
    var datasets = [
      { label: "Page views", data: rows.map(function (r) { return r.page_views; }), borderColor: COLORS.views,
        backgroundColor: "rgba(79,70,229,0.08)", fill: true, tension: 0.3, pointRadius: 0, borderWidth: 2 },
      { label: "Visitors", data: rows.map(function (r) { return r.visitors; }), borderColor: COLORS.visitors,
        backgroundColor: "transparent", tension: 0.3, pointRadius: 0, borderWidth: 2 }
    ];
    if (previousRows) {
      datasets.push({ label: "Page views, previous period", data: previousRows.map(function (r) { return r.page_views; }),
        borderColor: COLORS.previous, borderDash: [5, 4], backgroundColor: "transparent", tension: 0.3,
        pointRadius: 0, borderWidth: 2 });
    }
    drawChart("traffic", "traffic-chart", "line", labels, datasets, true);
  }

  function drawChart(key, canvasId, type, labels, datasets, legend) {
    if (!window.Chart) return;
    if (charts[key]) { charts[key].data.labels = labels; charts[key].data.datasets = datasets; charts[key].update("none"); return; }
    charts[key] = new window.Chart(document.getElementById(canvasId), {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: legend, position: "bottom", labels: { boxWidth: 12, usePointStyle: true } } },
        scales: {
          x: { grid: { display: false }, ticks: { maxTicksLimit: type === "bar" ? 6 : 8, maxRotation: 0, color: "#6b7280" } },
          y: { beginAtZero: true, grid: { color: "#f1f5f9" }, ticks: { precision: 0, color: "#6b7280" } }
        }
      }
    });
  }

  // ---------- tables ----------
  var TABLES = [
    { id: "pages", title: "Top pages", report: "pages", filter: "page", key: "page",
      columns: [["page", "Page", "url"], ["visitors", "Visitors"], ["page_views", "Views"], ["avg_engaged_ms", "Time", "ms"]] },
    { id: "entry_pages", title: "Entry pages", report: "entry_pages", filter: "page", key: "page",
      columns: [["page", "Page", "url"], ["sessions", "Visits"]] },
    { id: "exit_pages", title: "Exit pages", report: "exit_pages", filter: "page", key: "page",
      columns: [["page", "Page", "url"], ["sessions", "Visits"]] },
    { id: "referrers", title: "Referrers", report: "referrers", filter: "referrer", key: "referrer_host",
      rows: function (rows) { return rows.filter(function (r) { return r.dimension === "referrer"; }); },
      columns: [["referrer_host", "Referrer"], ["sessions", "Visits"]] },
    { id: "utm", title: "Campaigns (UTM)", report: "referrers",
      // Visits without any UTM tag are the referrers' business (the CSV keeps their row).
      rows: function (rows) {
        return rows.filter(function (r) {
          return r.dimension === "utm" && [r.utm_source, r.utm_medium, r.utm_campaign].some(function (v) { return v && v !== "(none)"; });
        });
      },
      columns: [["utm_source", "Source"], ["utm_medium", "Medium"], ["utm_campaign", "Campaign"], ["sessions", "Visits"]] },
    { id: "events", title: "Events", report: "events",
      columns: [["event", "Event"], ["visitors", "Visitors"], ["events", "Events"]] },
    // Audience (issue 13): bots are left out of every panel, visitors stitched by member id.
    { id: "countries", title: "Countries", report: "countries", late: true,
      columns: [["country", "Country"], ["visitors", "Visitors"], ["visits", "Visits"]] },
    { id: "devices", title: "Devices", report: "devices", late: true,
      columns: [["device", "Device"], ["visitors", "Visitors"], ["visits", "Visits"]] },
    { id: "browsers", title: "Browsers", report: "browsers", late: true,
      columns: [["browser", "Browser"], ["visitors", "Visitors"], ["visits", "Visits"]] },
    { id: "os", title: "Operating systems", report: "os", late: true,
      columns: [["os", "OS"], ["visitors", "Visitors"], ["visits", "Visits"]] },
    { id: "scroll", title: "Scroll depth", report: "scroll", filter: "page", key: "page",
      columns: [["page", "Page", "url"], ["page_views", "Views"], ["median_depth", "Median", "pct100"],
        ["reached_50", "≥ 50%", "share"], ["reached_100", "100%", "share"]] },
    { id: "members", title: "Members", report: "members", bars: false,
      columns: [["user_id", "Member"], ["visits", "Visits"], ["devices", "Devices"], ["last_seen", "Last seen"]] }
  ];
  var TABLE_LIMIT = 10;

  function tableCard(spec) {
    var card = el("div", "card table-card");
    card.id = "card-" + spec.id;
    var head = el("div", "card-head");
    head.appendChild(el("h2", "", spec.title));
    var csv = el("a", "csv", "CSV");
    csv.setAttribute("download", "logdig-" + spec.report + ".csv");
    csv.id = "csv-" + spec.id;
    head.appendChild(csv);
    card.appendChild(head);
    card.appendChild(el("div", "table-body"));
    return card;
  }

  // A URL as muted scheme and host + path, all of it text; "" stays "". Phones hide the scheme,
  // and the host too when one site is shown (body.one-site).
  function urlText(value) {
    var text = value === null || value === undefined ? "" : String(value);
    var match = /^(https?:\/\/)([^\/?#]*)/i.exec(text);
    var node = el("span", "url");
    if (!match) { node.textContent = text; return node; }
    node.appendChild(el("span", "url-origin url-scheme", match[1]));
    node.appendChild(el("span", "url-origin url-host", match[2]));
    node.appendChild(el("span", "url-path", text.slice(match[0].length) || "/"));
    return node;
  }

  function cell(value, kind) {
    var td = el("td", typeof value === "number" || kind === "ms" ? "num" : "");
    if (kind === "ms") { td.textContent = fmtMs(value); return td; }
    // Percentages: a 0-100 number (pct100) or a 0-1 share.
    if (typeof value === "number" && (kind === "pct100" || kind === "share")) {
      td.textContent = Math.round(kind === "share" ? value * 100 : value) + "%";
      return td;
    }
    if (typeof value === "number") { td.textContent = fmtNumber(value); return td; }
    var text = value === null || value === undefined ? "" : String(value);
    if (kind === "url") td.appendChild(urlText(text)); else td.textContent = text;
    td.title = text;
    return td;
  }

  function renderTable(container, spec, rows, onPick) {
    container.replaceChildren();
    if (!rows.length) { container.appendChild(el("p", "muted empty-table", "Nothing in this period.")); return; }
    var table = el("table", spec.bars === false ? "data plain" : "data");
    var thead = el("thead"), tr = el("tr");
    // A heading sits over its column: right for numbers, left for text.
    spec.columns.forEach(function (c, i) {
      var numeric = i && (typeof rows[0][c[0]] === "number" || c[2] === "ms");
      tr.appendChild(el("th", numeric ? "num" : "", c[1]));
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody");
    var max = Math.max.apply(null, rows.map(function (r) { return r[spec.columns[1][0]] || 0; })) || 1;
    rows.slice(0, spec.limit || TABLE_LIMIT).forEach(function (row) {
      var line = el("tr");
      spec.columns.forEach(function (c, i) {
        var td = cell(row[c[0]], c[2]);
        if (i === 0 && spec.bars !== false) {
          var bar = el("span", "bar");
          bar.style.width = Math.max(2, 100 * (row[spec.columns[1][0]] || 0) / max) + "%";
          td.classList.add("bar-cell");
          var label = el("span", "bar-label");
          while (td.firstChild) label.appendChild(td.firstChild);
          td.replaceChildren(bar, label);
          if (c[2] === "url" && isHttpUrl(row[c[0]])) {
            var open = el("a", "open-link", "↗");
            open.href = row[c[0]];
            open.target = "_blank";
            open.rel = "noopener noreferrer";
            open.setAttribute("aria-label", "Open page");
            td.appendChild(open);
          }
        }
        line.appendChild(td);
      });
      if (onPick && row[spec.key] && row[spec.key] !== "(direct)") {
        line.classList.add("pickable");
        line.tabIndex = 0;
        line.title = "Filter the dashboard by this " + spec.filter;
        var pick = function (e) { if (e.target.closest("a")) return; onPick(row[spec.key]); };
        line.addEventListener("click", pick);
        line.addEventListener("keydown", function (e) { if (e.key === "Enter") pick(e); });
      }
      tbody.appendChild(line);
    });
    table.appendChild(tbody);
    container.appendChild(table);
  }

  function buildTables() {
    var box = document.getElementById("tables");
    TABLES.forEach(function (spec) { box.appendChild(tableCard(spec)); });
  }

  // ---------- funnel, heatmap, realtime ----------
  function renderFunnel(rows) {
    var box = document.getElementById("funnel");
    box.replaceChildren();
    if (!rows) { box.appendChild(el("p", "muted", "Choose at least two steps to see how many visits reach each one.")); return; }
    var first = rows.length ? rows[0].sessions || 0 : 0;
    rows.forEach(function (row) {
      var line = el("div", "funnel-step");
      line.appendChild(el("span", "funnel-n", row.step));
      line.appendChild(el("span", "funnel-name", row.name));
      var track = el("span", "funnel-track");
      var fill = el("span", "funnel-fill");
      fill.style.width = (first ? Math.max(1, 100 * row.sessions / first) : 0) + "%";
      track.appendChild(fill);
      line.appendChild(track);
      line.appendChild(el("span", "funnel-count", fmtNumber(row.sessions) + " visits"));
      box.appendChild(line);
    });
  }

  function fillHeatmapPages(rows, current) {
    var select = document.getElementById("heatmap-page");
    select.replaceChildren(el("option", "", "Choose a page…"));
    select.firstChild.value = "";
    var pages = rows.map(function (r) { return r.page; });
    if (current && pages.indexOf(current) < 0) pages.unshift(current);
    pages.forEach(function (p) { var o = el("option", "", p); o.value = p; select.appendChild(o); });
    select.value = current || "";
    var options = document.getElementById("step-options");
    options.replaceChildren();
    rows.forEach(function (r) { options.appendChild(el("option")).value = r.page; });
    options.appendChild(el("option")).value = "conversion";
  }

  var REFERENCE_WIDTH = 1280; // the page is drawn this wide; heatmap columns are shares of it

  function renderHeatmap(page, cells, frameable) {
    var stage = document.getElementById("heatmap-stage");
    var note = document.getElementById("heatmap-note");
    var frame = document.getElementById("heatmap-frame");
    stage.hidden = !page;
    if (!page) { note.textContent = "Pick a page to see where visitors click."; return; }
    var columns = 20, rowPx = 100;
    var rows = cells.reduce(function (m, c) { return Math.max(m, c.cell_row + 1); }, 8);
    var width = stage.clientWidth || 800;
    var scale = width / REFERENCE_WIDTH;
    var height = Math.round(rows * rowPx * scale);
    var canvas = document.getElementById("heatmap-canvas");
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = height + "px";
    stage.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, height);
    var max = cells.reduce(function (m, c) { return Math.max(m, c.clicks); }, 1);
    var cw = width / columns, rh = rowPx * scale;
    // Soft blobs: each cell a radial glow, from cool (few clicks) to hot (the most).
    cells.forEach(function (c) {
      var t = Math.sqrt(c.clicks / max);
      var x = (c.cell_col + 0.5) * cw, y = (c.cell_row + 0.5) * rh, r = Math.max(cw, rh) * 0.9;
      var hue = Math.round(220 - 220 * t);
      var glow = ctx.createRadialGradient(x, y, 0, x, y, r);
      // Rare clicks faint, hot spots strong: the page stays readable under the map.
      glow.addColorStop(0, "hsla(" + hue + ", 90%, 50%, " + (0.12 + 0.68 * t) + ")");
      glow.addColorStop(1, "hsla(" + hue + ", 90%, 50%, 0)");
      ctx.fillStyle = glow;
      ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    });
    frame.hidden = !frameable;
    if (frameable) {
      frame.style.width = REFERENCE_WIDTH + "px";
      frame.style.height = Math.round(height / scale) + "px";
      frame.style.transform = "scale(" + scale + ")";
      if (frame.dataset.page !== page) { frame.src = page; frame.dataset.page = page; }
    } else {
      frame.removeAttribute("src");
      frame.dataset.page = "";
    }
    var clicks = cells.reduce(function (s, c) { return s + c.clicks; }, 0);
    note.textContent = fmtNumber(clicks) + " clicks" + (frameable ? ", drawn over the page" :
      " on a blank page-sized canvas (the page cannot be framed)") +
      "; columns are shares of the page width, so phones and desktops add up.";
  }

  function renderRealtime(live) {
    document.getElementById("rt-visitors").textContent = fmtNumber(live.current_visitors);
    var labels = live.per_minute.map(function (r) { return fmtBucket(r.bucket_start, "minute"); });
    drawChart("realtime", "rt-chart", "bar", labels, [{ label: "Events", data: live.per_minute.map(function (r) { return r.events; }),
      backgroundColor: COLORS.bars, borderRadius: 2 }], false);
    document.getElementById("rt-asof").textContent = live.as_of
      ? "Data as of " + fmtClock(live.as_of) + (live.queue_included ? "" : " (the lake lags the collector by the drain schedule)")
      : "No events in the last 5 minutes (checked " + fmtClock(live.read_at) + ")";
    renderTable(document.getElementById("active"), {
      columns: [["visitor", "Visitor"], ["current_page", "Current page", "url"], ["last_activity", "Last activity", "clock"],
        ["events", "Events"], ["duration_s", "Duration", "s"]], limit: 50, bars: false
    }, live.sessions.map(function (s) {
      return { visitor: s.visitor, current_page: s.current_page, last_activity: fmtClock(s.last_activity),
        events: s.events, duration_s: fmtDuration(s.duration_s) };
    }));
    var tile = document.querySelector('.tile[data-key="current_visitors"] .tile-value');
    if (tile) { tile.textContent = fmtNumber(live.current_visitors); tile.dataset.value = String(live.current_visitors); }
  }

  function refreshRealtime() {
    var state = readState();
    var live = filters(state);
    delete live.tz; // realtime is "now": no time zone to read dates in
    return api("/api/realtime", live)
      .then(renderRealtime).catch(function (e) { showError(e.message); });
  }

  // ---------- loading ----------
  function csvHref(report, params) { return "/api/reports/" + report + "?" + query(Object.assign({}, params, { format: "csv" })); }

  function load() {
    var token = ++loadToken;
    var state = readState();
    showError("");
    // Both before any panel, asked together: one round trip, not two.
    Promise.all([
      api("/api/status"),
      api("/api/range", { range: state.range, tz: state.tz, from: state.range === "custom" ? state.from : "", to: state.range === "custom" ? state.to : "" })
    ]).then(function (answers) {
      var status = answers[0];
      if (!status.has_events) { showEmpty(status); return null; }
      document.getElementById("empty").hidden = true;
      document.getElementById("content").hidden = false;
      document.body.classList.remove("is-empty");
      if (token !== loadToken) return null;
      view = answers[1];
      syncControls(state);
      return loadPanels(state, token);
    }).catch(function (e) { showError(e.message); });
  }

  function showEmpty(status) {
    document.getElementById("content").hidden = true;
    document.getElementById("empty").hidden = false;
    document.getElementById("snippet").textContent =
      '<script async src="' + status.tracker_url + '" data-token="' + status.token + '"></script>';
    document.body.dataset.loaded = "empty";
    document.body.classList.add("is-empty");
    // Waits for the first event: this page turns into the dashboard by itself.
    setTimeout(function () { if (document.body.classList.contains("is-empty")) load(); }, 5000);
  }

  function loadPanels(state, token) {
    var params = rangeParams(state);
    var jobs = [];
    document.body.classList.toggle("one-site", !!state.site);
    var pageParams = Object.assign({}, params);
    jobs.push(api("/api/summary", params).then(function (s) { if (token === loadToken) renderTiles(s, !!state.compare); }));
    // The period and, with compare, the previous one: asked together, drawn when both are in.
    var before = Object.assign({}, params, view.previous, { bucket: view.bucket });
    jobs.push(Promise.all([
      api("/api/reports/traffic", Object.assign({ bucket: view.bucket }, params)),
      state.compare ? api("/api/reports/traffic", before) : Promise.resolve(null)
    ]).then(function (pair) { if (token === loadToken) renderTraffic(pair[0], pair[1]); }));
    // The server answers in the order asked (a few at a time): what is on screen first goes
    // first, the audience tables (the slowest reports, at the bottom) last.
    jobs.push(refreshRealtime());
    jobs.push(api("/api/reports/sites", { from: view.from, to: view.to, tz: state.tz, include_bots: params.include_bots }).then(function (rows) {
      if (token === loadToken) fillSites(rows, state.site);
    }));
    var byReport = {};
    function loadTable(spec) {
      document.getElementById("csv-" + spec.id).href = csvHref(spec.report, pageParams);
      if (!byReport[spec.report]) byReport[spec.report] = api("/api/reports/" + spec.report, pageParams);
      jobs.push(byReport[spec.report].then(function (rows) {
        if (token !== loadToken) return;
        var pick = spec.filter ? function (value) { var c = {}; c[spec.filter] = value; update(c); } : null;
        renderTable(document.querySelector("#card-" + spec.id + " .table-body"), spec, spec.rows ? spec.rows(rows) : rows, pick);
        if (spec.id === "pages") fillHeatmapPages(rows, state.heatmap);
      }));
    }
    TABLES.filter(function (spec) { return !spec.late; }).forEach(loadTable);
    var steps = state.steps.split(",").filter(Boolean);
    jobs.push((steps.length >= 2 ? api("/api/reports/funnel", Object.assign({ steps: steps.join(",") }, params)) : Promise.resolve(null))
      .then(function (rows) { if (token === loadToken) renderFunnel(rows); }));
    jobs.push(loadHeatmap(state, params, token));
    TABLES.filter(function (spec) { return spec.late; }).forEach(loadTable);
    // One failing panel says so and leaves the others drawn.
    jobs = jobs.map(function (job) { return job.catch(function (e) { showError(e.message); }); });
    return Promise.all(jobs).then(function () {
      if (token !== loadToken) return;
      // After the next frame every panel is painted: benchmarks read this time.
      requestAnimationFrame(function () {
        document.body.dataset.paintedMs = String(Math.round(performance.now()));
        document.body.dataset.loaded = String(token);
      });
    });
  }

  function loadHeatmap(state, params, token) {
    var box = document.getElementById("elements");
    if (!state.heatmap) { renderHeatmap("", [], false); box.replaceChildren(); return Promise.resolve(); }
    var heat = Object.assign({}, params, { page: state.heatmap });
    return Promise.all([
      api("/api/reports/heatmap", heat),
      api("/api/reports/elements", heat),
      isHttpUrl(state.heatmap) ? api("/api/frameable", { page: state.heatmap }).catch(function () { return { frameable: false }; }) : Promise.resolve({ frameable: false })
    ]).then(function (res) {
      if (token !== loadToken) return;
      renderHeatmap(state.heatmap, res[0], res[2].frameable);
      renderTable(box, { columns: [["text", "Most-clicked elements"], ["clicks", "Clicks"], ["tag", "Tag"], ["element_id", "Id"]], limit: 15 },
        res[1].map(function (r) { return { text: r.text || (r.tag ? "<" + r.tag + ">" : "(unknown)"), clicks: r.clicks, tag: r.tag, element_id: r.element_id }; }));
    });
  }

  function start() {
    initControls();
    buildTables();
    writeState(readState(), true);
    load();
    realtimeTimer = setInterval(function () { if (view && !document.hidden) refreshRealtime(); }, REALTIME_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
