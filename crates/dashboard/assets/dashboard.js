// pinpipe's dashboard: draws the charts of the server-rendered page with uPlot, then polls the
// JSON API once a second. Values from the server are put into the page as text (textContent) or
// as HTML the server rendered and escaped; nothing is loaded from another origin.
(function () {
  "use strict";

  var page = document.body.getAttribute("data-page");
  var initial = {};
  try {
    initial = JSON.parse(document.getElementById("initial").textContent || "{}");
  } catch (e) {
    initial = {};
  }
  var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
    "#db2777", "#65a30d", "#9333ea", "#ea580c", "#0d9488", "#4b5563"];

  // The same formatting as the server's (html.rs: count, number).
  function fmtCount(n) {
    var digits = String(Math.round(n || 0));
    var out = "";
    for (var i = 0; i < digits.length; i++) {
      if (i > 0 && (digits.length - i) % 3 === 0) out += "\u202f";
      out += digits[i];
    }
    return out;
  }
  function fmtNumber(x) {
    if (typeof x !== "number" || !isFinite(x)) return "–";
    var a = Math.abs(x);
    if (a >= 100) return x.toFixed(0);
    if (a >= 10) return x.toFixed(1);
    return x.toFixed(2);
  }

  // The same thresholds as the server's (status.rs, stage_health).
  function health(name, st) {
    st = st || {};
    var errors = st.errors_per_min || 0;
    function lag(amber, red) {
      var s = st.lag_seconds || 0;
      if (s > red) return "red";
      if (s > amber || errors > 0) return "amber";
      return "green";
    }
    if (name === "stream") return lag(10, 60);
    if (name === "lake") return lag(120, 600);
    if (name === "log") {
      var share = st.pending_limit > 0 ? (st.pending || 0) / st.pending_limit : 0;
      return share > 0.8 ? "red" : share > 0.5 ? "amber" : "green";
    }
    if (name === "batch") {
      if (!st.last_success) return "amber";
      var hours = (Date.now() - Date.parse(st.last_success)) / 3600e3;
      return hours >= 26 ? "red" : "green";
    }
    return errors > 0 ? "amber" : "green";
  }

  function live(ok) {
    var el = document.getElementById("live");
    if (!el) return;
    el.textContent = ok ? "live · " + new Date().toLocaleTimeString() : "not updating (server unreachable)";
    el.className = ok ? "live on" : "live off";
  }

  function getJSON(url) {
    return fetch(url, { headers: { accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // Polls `url` once a second; `apply` gets each answer.
  function poll(url, apply) {
    var busy = false;
    setInterval(function () {
      if (busy) return;
      busy = true;
      getJSON(typeof url === "function" ? url() : url)
        .then(function (doc) { apply(doc); live(true); })
        .catch(function () { live(false); })
        .then(function () { busy = false; });
    }, 1000);
  }

  // Replaces the elements matching `selectors` with the same ones of a fresh server rendering
  // of this page (escaped by the server).
  function refreshFrom(selectors) {
    return fetch(location.pathname + location.search).then(function (r) { return r.text(); }).then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html");
      selectors.forEach(function (sel) {
        var now = document.querySelector(sel);
        var next = fresh.querySelector(sel);
        if (now && next) now.replaceWith(document.importNode(next, true));
      });
    });
  }

  // Polls `url`; when its answer changes, re-renders `selectors` from the server.
  function pollAndRefresh(url, selectors) {
    var last = JSON.stringify(initial);
    poll(url, function (doc) {
      var text = JSON.stringify(doc);
      if (text !== last) {
        last = text;
        refreshFrom(selectors);
      }
    });
  }

  function makeChart(id, seriesNames, data, extra) {
    var el = document.getElementById(id);
    if (!el || typeof uPlot === "undefined") return null;
    var series = [{}];
    seriesNames.forEach(function (name, i) {
      var s = { label: name, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true };
      if (extra && extra.series) Object.assign(s, extra.series(i));
      series.push(s);
    });
    if (!data[0] || data[0].length === 0) {
      data = [[Math.floor(Date.now() / 1000)]].concat(seriesNames.map(function () { return [null]; }));
    }
    var opts = {
      width: Math.max(el.clientWidth || 0, 320),
      height: 220,
      series: series,
      scales: { x: extra && extra.xRange ? { time: true, range: extra.xRange } : { time: true } },
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    var chart = new uPlot(opts, data, el);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(el.clientWidth || 0, 320), height: 220 });
    });
    return chart;
  }

  // --- /dashboard -------------------------------------------------------------------------
  var CHARTS = [
    ["chart-rates", ["ingest_rate", "log_rate", "stream_rate", "lake_rate"], ["ingest", "log", "speed layer", "lake"]],
    ["chart-lag", ["stream_lag_seconds", "lake_lag_seconds"], ["pinpipe-stream", "pinpipe-lake"]],
    ["chart-http", ["http_p50_seconds", "http_p99_seconds"], ["p50", "p99"]],
    ["chart-errors", ["rejects_per_min", "dead_letters_per_min"], ["rejects/min", "dead letters/min"]],
  ];
  var MAX_POINTS = 3600;

  function overviewPage() {
    var history = { t: [], series: {} };
    var seq = initial.seq || 0;
    function append(h) {
      if (!h || !h.t) return;
      var seriesIn = h.series || {};
      var before = history.t.length;
      history.t = history.t.concat(h.t);
      CHARTS.forEach(function (c) {
        c[1].forEach(function (key) {
          var have = history.series[key] || [];
          while (have.length < before) have.push(null);
          var add = seriesIn[key] || [];
          for (var i = 0; i < h.t.length; i++) have.push(i < add.length ? add[i] : null);
          history.series[key] = have;
        });
      });
      var extra = history.t.length - MAX_POINTS;
      if (extra > 0) {
        history.t = history.t.slice(extra);
        Object.keys(history.series).forEach(function (k) { history.series[k] = history.series[k].slice(extra); });
      }
    }
    function data(keys) {
      return [history.t].concat(keys.map(function (k) { return history.series[k] || []; }));
    }
    append(initial.history);
    var charts = CHARTS.map(function (c) { return makeChart(c[0], c[2], data(c[1])); });

    function setTiles(doc) {
      var stages = doc.stages || {};
      Object.keys(stages).forEach(function (name) {
        var tile = document.querySelector('.tile[data-stage="' + name + '"]');
        if (!tile) return;
        var st = stages[name] || {};
        tile.className = "tile " + health(name, st);
        tile.querySelectorAll("dd[data-field]").forEach(function (dd) {
          var f = dd.getAttribute("data-field");
          var text;
          if (f === "rate" || f === "lag_seconds" || f === "errors_per_min") text = fmtNumber(st[f] || 0);
          else if (f === "total" || f === "lag_records") text = fmtCount(st[f] || 0);
          else if (f === "pending") text = fmtCount(st.pending || 0) + " / " + fmtCount(st.pending_limit || 0);
          else if (f === "latest_date") text = st.latest_date || "none yet";
          else if (f === "last_success") text = st.last_success || "never";
          if (text !== undefined) dd.textContent = text;
        });
      });
      var s = document.getElementById("seq");
      if (s) s.textContent = String(doc.seq);
      var t = document.getElementById("time");
      if (t) t.textContent = doc.time || "";
    }

    poll(function () { return "/api/v1/overview?since=" + seq; }, function (doc) {
      if (typeof doc.seq === "number") seq = doc.seq;
      append(doc.history);
      setTiles(doc);
      charts.forEach(function (chart, i) {
        if (chart && history.t.length) chart.setData(data(CHARTS[i][1]));
      });
    });
  }

  // --- /dashboard/realtime ---------------------------------------------------------------
  function windowsData(doc) {
    var rows = doc.windows || [];
    var times = [];
    var cats = [];
    var by = {};
    rows.forEach(function (w) {
      var t = Date.parse(w.window_start) / 1000;
      if (times.indexOf(t) < 0) times.push(t);
      var c = w.category || "(none)";
      if (cats.indexOf(c) < 0) cats.push(c);
      by[t + "|" + c] = w.events;
    });
    times.sort(function (a, b) { return a - b; });
    cats.sort();
    // Stacked: each series is the sum of the categories up to it; drawn from the top down.
    var cumulative = times.map(function () { return 0; });
    var stacks = cats.map(function (c) {
      cumulative = cumulative.map(function (sum, i) { return sum + (by[times[i] + "|" + c] || 0); });
      return cumulative.slice();
    });
    return { names: cats.slice().reverse(), data: [times].concat(stacks.reverse()) };
  }

  function realtimePage() {
    // The x axis spans the whole hour the page covers, not just the minutes that have events
    // (with two minutes of data, the bars would sit at the edges, cut in half).
    var minute = Date.parse(initial.current_window || "") / 1000;
    var xRange = function (u, min, max) {
      if (!isFinite(minute)) return [min, max];
      return [minute - 59 * 60 - 30, minute + 30];
    };
    var shaped = windowsData(initial);
    var names = shaped.names.length ? shaped.names : ["events"];
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
    var fill = function (i) {
      return { fill: PALETTE[(names.length - 1 - i) % PALETTE.length], stroke: PALETTE[(names.length - 1 - i) % PALETTE.length], paths: bars, points: { show: false } };
    };
    var chart = makeChart("chart-windows", names, shaped.names.length ? shaped.data : [[]], { series: fill, xRange: xRange });
    var last = JSON.stringify(shaped);
    poll("/api/v1/windows?minutes=60", function (doc) {
      var now = Date.parse(doc.current_window || "") / 1000;
      if (isFinite(now)) minute = now;
      var next = windowsData(doc);
      var text = JSON.stringify(next);
      if (text === last) return;
      var sameSeries = JSON.stringify(next.names) === JSON.stringify(names);
      last = text;
      if (chart && sameSeries && next.data[0].length) {
        chart.setData(next.data);
      } else if (next.names.length) {
        var el = document.getElementById("chart-windows");
        if (chart) chart.destroy();
        el.textContent = "";
        names = next.names;
        chart = makeChart("chart-windows", names, next.data, { series: fill, xRange: xRange });
      }
      refreshFrom(["#minutes"]);
    });
  }

  // --- /dashboard/analytics ----------------------------------------------------------------
  function analyticsPage() {
    var select = document.getElementById("date");
    if (select) select.addEventListener("change", function () { document.getElementById("date-form").submit(); });
    var trend = initial.trend || [];
    var dates = [];
    var cats = [];
    var by = {};
    trend.forEach(function (r) {
      var t = Date.parse(r.dt + "T00:00:00Z") / 1000;
      if (dates.indexOf(t) < 0) dates.push(t);
      if (cats.indexOf(r.category) < 0) cats.push(r.category);
      by[t + "|" + r.category] = r.pins;
    });
    dates.sort(function (a, b) { return a - b; });
    cats.sort();
    var data = [dates].concat(cats.map(function (c) {
      return dates.map(function (t) { var v = by[t + "|" + c]; return v === undefined ? null : v; });
    }));
    makeChart("chart-trend", cats.length ? cats : ["pins"], cats.length ? data : [[]], {
      series: function () { return { points: { show: true, size: 6 } }; },
    });
    // A new batch run: show its date's analytics (the page reloads; it has no other state).
    var last = null;
    poll("/api/v1/batch-runs?limit=1", function (doc) {
      var text = JSON.stringify(doc);
      if (last !== null && text !== last) location.reload();
      last = text;
    });
  }

  if (page === "overview") overviewPage();
  else if (page === "realtime") realtimePage();
  else if (page === "log") pollAndRefresh("/api/v1/log", ["main"]);
  else if (page === "errors") pollAndRefresh("/api/v1/dead-letters?limit=50", ["main"]);
  else if (page === "runs") pollAndRefresh("/api/v1/runs?limit=50", ["main"]);
  else if (page === "analytics") analyticsPage();
})();
