"use strict";
// The operators' dashboard: reads /v1/dashboard/* with the operator's token
// and draws its own SVG charts (no library, nothing fetched from outside).
(function () {
  var token = "";
  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("vnpass.dash.token", token);
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    token = sessionStorage.getItem("vnpass.dash.token") || "";
  }
  var $ = function (id) { return document.getElementById(id); };
  var scope = null;
  var names = {};
  var C = { entry: "#0b6bcb", exit: "#e07a1f", grid: "#dde3ea", text: "#4a5563" };

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function vnd(n) { return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " ₫"; }
  function num(n) { return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "."); }
  function api(path) {
    return fetch("/v1/dashboard/" + path, { headers: { Authorization: "Bearer " + token } }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (p) {
          throw new Error((p.detail || r.statusText) + " (" + r.status + ")");
        });
      }
      return r.json();
    });
  }
  // Local time of day (Asia/Ho_Chi_Minh, UTC+7) in minutes.
  function localMinutes(iso) {
    var d = new Date(iso);
    return ((d.getUTCHours() + 7) % 24) * 60 + d.getUTCMinutes();
  }
  function hhmm(min) { var h = Math.floor(min / 60); return (h < 10 ? "0" : "") + h + ":" + ((min % 60) < 10 ? "0" : "") + (min % 60); }
  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), f = v / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // A chart over the day: series of {color, label, values[96]} (15-minute
  // slots) drawn as lines, or of hourly bars (values[24]).
  function dayChart(series, opts) {
    var W = opts.width || 900, H = opts.height || 220, L = opts.left || 48, R = 10, T = 14, B = 26;
    var n = series.length ? series[0].values.length : 96;
    var max = 0, points = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; if (v > 0) points++; }); });
    max = niceMax(Math.max(max, 4));
    var x = function (i) { return L + (W - L - R) * i / n; };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" role="img" data-points="' + points + '" aria-label="' + esc(opts.label) + '">'];
    for (var g = 0; g <= 4; g++) {
      var gv = max * g / 4;
      out.push('<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(gv) + '" y2="' + y(gv) + '" stroke="' + C.grid + '"/>');
      out.push('<text x="' + (L - 6) + '" y="' + (y(gv) + 4) + '" font-size="11" text-anchor="end" fill="' + C.text + '">' + num(gv) + "</text>");
    }
    for (var h = 0; h <= 24; h += 3) {
      var xi = x(h * n / 24);
      out.push('<text x="' + xi + '" y="' + (H - 8) + '" font-size="11" text-anchor="' + (h === 24 ? "end" : h === 0 ? "start" : "middle") + '" fill="' + C.text + '">' + hhmm(h * 60) + "</text>");
    }
    series.forEach(function (s, si) {
      if (opts.bars) {
        var bw = (W - L - R) / n / series.length;
        s.values.forEach(function (v, i) {
          if (v <= 0) return;
          out.push('<rect class="bar" x="' + (x(i) + si * bw) + '" y="' + y(v) + '" width="' + Math.max(bw - 1, 1) + '" height="' + (y(0) - y(v)) +
            '" fill="' + s.color + '"><title>' + esc(s.label) + " " + hhmm(i * 1440 / n) + ": " + esc(opts.fmt ? opts.fmt(v) : num(v)) + "</title></rect>");
        });
      } else {
        var d = s.values.map(function (v, i) { return (i ? "L" : "M") + x(i + 0.5).toFixed(1) + " " + y(v).toFixed(1); }).join(" ");
        out.push('<path class="series" d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="2"/>');
      }
    });
    var lx = L + 8;
    series.forEach(function (s) {
      out.push('<rect x="' + lx + '" y="2" width="10" height="10" fill="' + s.color + '"/><text class="legend" x="' + (lx + 14) + '" y="11" font-size="11">' + esc(s.label) + "</text>");
      lx += 14 + s.label.length * 6.5 + 16;
    });
    out.push("</svg>");
    return out.join("");
  }

  function hbars(rows, opts) {
    var W = opts.width || 900, rowH = 26, L = opts.left || 200, H = rows.length * rowH + 8;
    var max = niceMax(Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([0])));
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" data-points="' + rows.filter(function (r) { return r.value > 0; }).length + '">'];
    rows.forEach(function (r, i) {
      var w = (W - L - 150) * r.value / max, yy = 4 + i * rowH;
      out.push('<text x="' + (L - 8) + '" y="' + (yy + 16) + '" font-size="12" text-anchor="end">' + esc(r.label) + "</text>");
      out.push('<rect class="bar" x="' + L + '" y="' + yy + '" width="' + Math.max(w, 0) + '" height="' + (rowH - 8) + '" fill="' + (r.color || C.entry) + '"/>');
      out.push('<text x="' + (L + w + 6) + '" y="' + (yy + 16) + '" font-size="12">' + esc(r.text) + "</text>");
    });
    out.push("</svg>");
    return out.join("");
  }

  function currentStations() {
    var id = $("line").value, out = [];
    scope.lines.forEach(function (l) { if (!id || l.id === id) out = out.concat(l.stations); });
    return out;
  }

  function drawStations(data) {
    var st = $("station").value, entries = new Array(96).fill(0), exits = new Array(96).fill(0), per = {};
    var te = 0, tx = 0;
    data.slots.forEach(function (s) {
      per[s.site] = per[s.site] || { e: 0, x: 0 };
      per[s.site].e += s.entries; per[s.site].x += s.exits;
      if (st && s.site !== st) return;
      var i = Math.floor(localMinutes(s.slot) / 15);
      entries[i] += s.entries; exits[i] += s.exits; te += s.entries; tx += s.exits;
    });
    $("stations-totals").textContent = "Vào " + num(te) + " · Ra " + num(tx) + " — Entries " + num(te) + " · Exits " + num(tx);
    $("stations-chart").innerHTML = dayChart([
      { label: "Vào · Entries", color: C.entry, values: entries },
      { label: "Ra · Exits", color: C.exit, values: exits }], { label: "entries and exits" });
    var rows = [];
    currentStations().forEach(function (s) {
      var p = per[s.id] || { e: 0, x: 0 };
      rows.push({ label: s.name, value: p.e + p.x, text: num(p.e) + " vào · " + num(p.x) + " ra" });
    });
    $("stations-bars").innerHTML = rows.length ? hbars(rows, {}) : '<p class="empty">Không có ga · No stations</p>';
  }

  function drawOD(data) {
    var stations = currentStations(), idx = {};
    stations.forEach(function (s, i) { idx[s.id] = i; });
    var n = stations.length, max = 0, cells = 0;
    var grid = stations.map(function () { return new Array(n).fill(0); });
    data.cells.forEach(function (c) {
      if (!(c.from in idx) || !(c.to in idx)) return;
      grid[idx[c.from]][idx[c.to]] += c.journeys;
    });
    grid.forEach(function (r) { r.forEach(function (v) { if (v > max) max = v; if (v > 0) cells++; }); });
    if (!n) { $("od-chart").innerHTML = '<p class="empty">Không có dữ liệu · No data</p>'; return; }
    var cs = Math.max(14, Math.min(34, Math.floor(560 / n))), L = 130, T = 130, W = L + n * cs + 10, H = T + n * cs + 10;
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" data-points="' + cells + '">'];
    stations.forEach(function (s, i) {
      out.push('<text x="' + (L - 4) + '" y="' + (T + i * cs + cs * 0.65) + '" font-size="11" text-anchor="end">' + esc(s.name) + "</text>");
      out.push('<text font-size="11" transform="translate(' + (L + i * cs + cs * 0.65) + "," + (T - 4) + ') rotate(-60)">' + esc(s.name) + "</text>");
    });
    grid.forEach(function (r, i) {
      r.forEach(function (v, j) {
        var a = v ? 0.12 + 0.88 * v / max : 0;
        out.push('<rect class="cell" x="' + (L + j * cs) + '" y="' + (T + i * cs) + '" width="' + (cs - 1) + '" height="' + (cs - 1) +
          '" fill="' + (v ? "rgba(11,79,138," + a.toFixed(3) + ")" : "#f0f3f7") + '"><title>' + esc(stations[i].name) + " → " + esc(stations[j].name) + ": " + num(v) + "</title></rect>");
      });
    });
    out.push("</svg>");
    $("od-chart").innerHTML = out.join("");
  }

  function drawRevenue(data) {
    var rows = data.lines.map(function (l) {
      return { label: names[l.line] || l.line, value: l.fare_vnd, text: vnd(l.fare_vnd) + " · " + num(l.journeys) + " lượt" };
    });
    $("revenue-chart").innerHTML = rows.length ? hbars(rows, { left: 200, width: 560 }) : '<p class="empty">Chưa có doanh thu · No revenue yet</p>';
    var colors = ["#0b6bcb", "#e07a1f", "#2a9d6f", "#8e44ad"];
    var series = data.lines.map(function (l, i) {
      var v = new Array(24).fill(0);
      l.hours.forEach(function (h) { v[Math.floor(localMinutes(h.hour) / 60)] += h.fare_vnd; });
      return { label: l.line, color: colors[i % colors.length], values: v };
    });
    $("revenue-hours").innerHTML = series.length ? dayChart(series, { bars: true, width: 560, height: 200, left: 72, label: "revenue per hour", fmt: vnd }) : "";
  }

  function drawParking(data) {
    if (!data.lots.length) { $("parking-list").innerHTML = '<p class="empty">Không có bãi xe · No lots in your scope</p>'; return; }
    $("parking-list").innerHTML = data.lots.map(function (l) {
      var cap = 0, occ = 0;
      Object.keys(l.capacity).forEach(function (k) { cap += l.capacity[k]; });
      Object.keys(l.occupied).forEach(function (k) { occ += l.occupied[k]; });
      var pct = cap ? Math.min(100, 100 * occ / cap) : 0;
      var vin = new Array(24).fill(0), vout = new Array(24).fill(0);
      l.hours.forEach(function (h) { var i = Math.floor(localMinutes(h.hour) / 60); vin[i] += h.in; vout[i] += h.out; });
      return '<div class="lot" data-lot="' + esc(l.id) + '"><h3>' + esc(l.name) + "</h3>" +
        '<p class="totals">Đang gửi ' + num(occ) + " / " + num(cap) + " chỗ · Occupied " + num(occ) + " of " + num(cap) + " (" + pct.toFixed(0) + "%)</p>" +
        '<div class="meter"><div class="' + (pct >= 90 ? "full" : "") + '" style="width:' + pct.toFixed(1) + '%"></div></div>' +
        '<div class="chart">' + dayChart([{ label: "Xe vào · In", color: C.entry, values: vin }, { label: "Xe ra · Out", color: C.exit, values: vout }],
          { bars: true, width: 560, height: 170, label: "vehicles in and out" }) + "</div></div>";
    }).join("");
  }

  function drawDevices(data) {
    $("devices-totals").textContent = "Ngoại tuyến " + data.offline + " · Hàng đợi " + num(data.queued) + " — Offline " + data.offline + " · Queued taps " + num(data.queued);
    var rows = data.devices.slice().sort(function (a, b) {
      var ao = a.state !== "online" || a.overdue, bo = b.state !== "online" || b.overdue;
      return ao === bo ? String(a.device).localeCompare(String(b.device)) : ao ? -1 : 1;
    });
    $("devices-list").innerHTML = rows.length ? "<table><tr><th>Thiết bị · Device</th><th>Trạng thái · State</th><th>Hàng đợi · Queue</th></tr>" +
      rows.map(function (d) {
        var off = d.state !== "online" || d.overdue;
        return '<tr class="' + (off ? "offline" : "") + '"><td>' + esc(d.device) + "</td><td>" + (off ? "Ngoại tuyến · Offline" : "Trực tuyến · Online") +
          "</td><td>" + num(d.queue_depth || 0) + "</td></tr>";
      }).join("") + "</table>" : '<p class="empty">Không có thiết bị · No devices</p>';
  }

  function age(s) {
    var n;
    if (s < 3600) { n = Math.max(1, Math.round(s / 60)); return n + " phút · " + n + " min"; }
    if (s < 172800) { n = Math.round(s / 3600); return n + " giờ · " + n + " h"; }
    n = Math.round(s / 86400); return n + " ngày · " + n + " days";
  }
  // Typed-in answers are kept: the list is redrawn by the refresh only
  // when no answer is being written.
  function disputesBusy() {
    return [].some.call(document.querySelectorAll("#disputes-list input"), function (i) { return i.value !== ""; });
  }
  function drawDisputes(data, force) {
    if (!force && disputesBusy()) return;
    var ds = data.disputes;
    $("disputes-totals").textContent = "Đang mở " + ds.length + " · Open " + ds.length;
    $("disputes-list").innerHTML = ds.length ? ds.map(function (d) {
      var what = d.kind === "parking_session" ? "Gửi xe · Parking #" + d.charge_id : "Chuyến đi · Journey #" + d.charge_id;
      return '<div class="dispute" data-id="' + d.id + '"><h3>#' + d.id + " · " + esc(what) + (d.where_name || d.where ? " · " + esc(d.where_name || d.where) : "") + "</h3>" +
        '<p class="totals">Hành khách · Rider <b class="rider">' + esc(d.rider) + "</b> · Số tiền · Amount <b>" + vnd(d.charged_vnd) +
        "</b> · Đã chờ · Age " + age(d.age_s) + "</p>" +
        '<p class="why">Lý do · Reason: “' + esc(d.reason) + "”</p>" +
        '<form><input name="amount" type="number" min="1" step="1" max="' + d.charged_vnd + '" placeholder="₫ (toàn bộ · full)" aria-label="Số tiền hoàn · Refund amount">' +
        '<input name="reason" placeholder="Trả lời hành khách · Answer to the rider" aria-label="Lý do · Reason" required minlength="5">' +
        '<button type="button" class="refund">Hoàn tiền · Refund</button><button type="button" class="reject">Từ chối · Reject</button></form></div>';
    }).join("") : '<p class="empty">Không có khiếu nại đang mở · No open disputes</p>';
  }
  function loadDisputes(force) { return api("disputes").then(function (d) { drawDisputes(d, force); }); }
  function note(text, bad) { var n = $("disputes-note"); n.textContent = text; n.className = bad ? "note bad" : "note"; }
  $("disputes-list").addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) return;
    var box = b.closest(".dispute"), id = box.dataset.id;
    var reason = box.querySelector("input[name=reason]").value.trim(), amount = box.querySelector("input[name=amount]").value;
    if (reason.length < 5) { note("Hãy ghi lý do cho hành khách · Write the reason the rider will read", true); return; }
    var body = { outcome: b.classList.contains("refund") ? "refund" : "reject", reason: reason };
    if (body.outcome === "refund" && amount) body.amount_vnd = Math.round(+amount);
    [].forEach.call(box.querySelectorAll("button,input"), function (x) { x.disabled = true; });
    document.body.dataset.disputes = "busy";
    fetch("/v1/disputes/" + encodeURIComponent(id) + "/resolution", {
      method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (p) {
        if (!r.ok) throw new Error((p.detail || r.statusText) + " (" + r.status + ")");
        return p;
      });
    }).then(function (d) {
      note(d.status === "refunded" ? "Đã hoàn " + vnd(d.refund_vnd) + " cho #" + d.id + " · Refunded " + vnd(d.refund_vnd) + " on #" + d.id
        : "Đã từ chối #" + d.id + " · Rejected #" + d.id, false);
    }, function (err) { note("Không xử lý được · Could not resolve #" + id + ": " + err.message, true); })
      .then(function () { return loadDisputes(true); })
      .then(function () { document.body.dataset.disputes = "done"; }, function (err) { note(err.message, true); document.body.dataset.disputes = "done"; });
  });

  function q() {
    var p = "?day=" + encodeURIComponent($("day").value);
    if ($("line").value) p += "&line=" + encodeURIComponent($("line").value);
    return p;
  }

  function load() {
    document.body.dataset.ready = "";
    $("error").hidden = true;
    var jobs = [
      api("stations" + q()).then(drawStations),
      api("od" + q()).then(drawOD),
      api("revenue?day=" + encodeURIComponent($("day").value)).then(drawRevenue),
      api("parking?day=" + encodeURIComponent($("day").value)).then(drawParking),
      loadDisputes(false)
    ];
    if (scope.fleet) {
      $("devices-card").hidden = false;
      jobs.push(api("devices").then(drawDevices).catch(function (e) { $("devices-totals").textContent = e.message; }));
    }
    return Promise.all(jobs).then(function () { document.body.dataset.ready = "1"; }, fail);
  }

  function fail(e) {
    $("error").textContent = "Không tải được · Could not load: " + e.message;
    $("error").hidden = false;
    document.body.dataset.ready = "error";
  }

  function fillStations() {
    var sel = $("station"), keep = sel.value;
    sel.innerHTML = '<option value="">Tất cả · All</option>' + currentStations().map(function (s) {
      return '<option value="' + esc(s.id) + '">' + esc(s.name) + "</option>";
    }).join("");
    sel.value = keep;
  }

  function start() {
    if (!token) { fail(new Error("no token (open /dashboard/#token=...)")); return; }
    var now = new Date(Date.now() + 7 * 3600e3);
    var params = new URLSearchParams(location.search);
    $("day").value = params.get("day") || now.toISOString().slice(0, 10);
    api("scope").then(function (s) {
      scope = s;
      $("who").textContent = s.operator_id ? "Đơn vị · Operator: " + s.operator_id : "Quản trị · Admin";
      $("line").innerHTML = '<option value="">Tất cả · All</option>' + s.lines.map(function (l) {
        names[l.id] = l.name;
        return '<option value="' + esc(l.id) + '">' + esc(l.name) + "</option>";
      }).join("");
      if (params.get("line")) $("line").value = params.get("line");
      fillStations();
      // A parking operator has no lines, a metro operator may have no lots.
      ["stations-card", "od-card", "revenue-card"].forEach(function (id) { $(id).hidden = !s.lines.length; });
      $("parking-card").hidden = !s.lots.length;
      $("line").onchange = function () { fillStations(); load(); };
      $("station").onchange = load;
      $("day").onchange = load;
      return load();
    }).catch(fail);
    setInterval(function () { if (scope && document.visibilityState === "visible") load(); }, 15000);
  }
  start();
})();
