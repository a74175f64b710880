// The rider's page: reads /v1/me* with the rider's token. The VNeID app
// opens it as /rider/#token=<token>; the token is kept for the tab only.
(function () {
  "use strict";
  var h = location.hash.match(/token=([^&]+)/);
  if (h) {
    sessionStorage.setItem("vnpass.token", decodeURIComponent(h[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  var token = sessionStorage.getItem("vnpass.token");
  var $ = function (id) { return document.getElementById(id); };
  var days = 0;

  function api(method, path, body) {
    var o = { method: method, headers: { Authorization: "Bearer " + token } };
    if (body) { o.headers["Content-Type"] = "application/json"; o.body = JSON.stringify(body); }
    return fetch(path, o).then(function (r) {
      var ct = r.headers.get("Content-Type") || "";
      var p = ct.indexOf("json") >= 0 ? r.json() : r.text();
      return p.then(function (b) {
        if (!r.ok) { throw new Error((b && b.detail) || r.status); }
        return b;
      });
    });
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function say(vi, en) {
    var m = $("msg");
    m.textContent = vi + (en ? " · " + en : "");
    m.hidden = false;
  }
  function ymd(d) {
    // Local dates are Vietnam's (UTC+7) whatever the phone's zone.
    return new Date(d.getTime() + 7 * 3600e3).toISOString().slice(0, 10);
  }
  function hhmm(s) { return s ? s.slice(11, 16) + " " + s.slice(8, 10) + "/" + s.slice(5, 7) : "?"; }
  var statusVI = { open: "Đang xử lý", refunded: "Đã hoàn tiền", rejected: "Bị từ chối" };
  var statusEN = { open: "in review", refunded: "refunded", rejected: "rejected" };

  function loadMe() {
    return api("GET", "/v1/me").then(function (me) {
      $("balance").textContent = me.balance_text;
      var f = me.funding;
      $("funding").textContent = f.funding === "postpaid"
        ? "Trả sau qua " + (f.account || f.method) + " · Post-paid via " + (f.account || f.method) + (f.in_debt ? " · Nợ · Owed " + f.owed_text : "")
        : "Trả trước · Prepaid";
      var ps = $("passes");
      ps.textContent = "";
      me.passes.forEach(function (p) {
        ps.appendChild(el("li", "Vé " + p.product_id + " đến · valid until " + hhmm(p.valid_until) + (p.valid_now ? " ✓" : "")));
      });
      $("account").hidden = false;
    });
  }

  function trip(j) {
    var li = $("trip-tpl").content.firstElementChild.cloneNode(true);
    li.dataset.journey = j.journey_id;
    var from = j.entry ? j.entry.name : "?", to = j.exit ? j.exit.name : "?";
    li.querySelector(".route").textContent = from + " → " + to;
    li.querySelector(".amt").textContent = j.paid_text;
    li.querySelector(".when").textContent = hhmm(j.entry ? j.entry.at : j.exit && j.exit.at) +
      (j.status === "incomplete" ? " · Thiếu lượt chạm · Missing tap" : "");
    var tags = li.querySelector(".tags");
    [[j.cap, "Giới hạn " + j.cap + " · " + j.cap + " cap"], [j.transfer_rule, "Chuyển tuyến · Transfer"],
     [j.pass_id, "Vé tháng/ngày · Pass"]].forEach(function (t) { if (t[0]) { tags.appendChild(el("span", t[1])); } });
    if (j.dispute) {
      tags.appendChild(el("span", "Khiếu nại · Dispute: " + statusVI[j.dispute.status] + " · " + statusEN[j.dispute.status], "st-" + j.dispute.status));
    }
    var expl = li.querySelector(".expl"), form = li.querySelector(".dform"), dbtn = li.querySelector(".dispute");
    dbtn.hidden = !j.disputable;
    li.querySelector(".why").onclick = function () {
      if (!expl.hidden) { expl.hidden = true; return; }
      api("GET", "/v1/journeys/" + j.journey_id + "/explanation").then(function (r) {
        expl.textContent = "";
        r.explanation.vi.forEach(function (l) { expl.appendChild(el("p", l)); });
        r.explanation.en.forEach(function (l) { expl.appendChild(el("p", l, "en")); });
        expl.hidden = false;
      }, function (e) { say("Không tải được giải thích", e.message); });
    };
    dbtn.onclick = function () { form.hidden = !form.hidden; };
    form.onsubmit = function (ev) {
      ev.preventDefault();
      api("POST", "/v1/me/disputes", { kind: "journey", charge_id: j.journey_id, reason: form.reason.value }).then(function () {
        say("Đã gửi khiếu nại", "Dispute sent");
        return refresh();
      }, function (e) { say("Không gửi được khiếu nại", e.message); });
    };
    return li;
  }

  function loadTrips() {
    var q = "?limit=50&to=" + ymd(new Date()) + "&from=" + ymd(new Date(Date.now() - days * 86400e3));
    return api("GET", "/v1/me/journeys" + q).then(function (r) {
      var ul = $("trips");
      ul.textContent = "";
      r.journeys.forEach(function (j) { ul.appendChild(trip(j)); });
      if (!r.journeys.length) { ul.appendChild(el("li", "Chưa có chuyến đi · No trips yet", "small")); }
      $("trips-card").hidden = false;
    });
  }

  var vehicleVI = { motorbike: "Xe máy", car: "Ô tô", large: "Xe lớn" };
  var vehicleEN = { motorbike: "motorbike", car: "car", large: "large vehicle" };
  function vnd(n) { return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " ₫"; }

  // Parking times come as instants (UTC); shown at Vietnam's time.
  function lhhmm(s) { return s ? hhmm(new Date(Date.parse(s) + 7 * 3600e3).toISOString()) : "…"; }

  function park(p) {
    var li = $("park-tpl").content.firstElementChild.cloneNode(true);
    li.dataset.session = p.id;
    li.querySelector(".route").textContent = p.lot_name || p.lot_id;
    li.querySelector(".amt").textContent = p.status === "open" ? "Đang gửi · Parked" : p.charged_text;
    li.querySelector(".when").textContent = (vehicleVI[p.vehicle] || p.vehicle) + " · " + (vehicleEN[p.vehicle] || p.vehicle) +
      (p.plate ? " · " + p.plate : "") + " · " + lhhmm(p.entry_at) + " → " + lhhmm(p.exit_at);
    var tags = li.querySelector(".tags");
    if (p.status !== "open" && p.fee_vnd !== p.charged_vnd) { tags.appendChild(el("span", "Phí · Fee " + vnd(p.fee_vnd))); }
    if (p.refunded_vnd) { tags.appendChild(el("span", "Đã hoàn · Refunded " + vnd(p.refunded_vnd), "st-refunded")); }
    if (p.tariff_rule === "subscription") { tags.appendChild(el("span", "Vé tháng · Subscription")); }
    if (p.dispute) {
      tags.appendChild(el("span", "Khiếu nại · Dispute: " + statusVI[p.dispute.status] + " · " + statusEN[p.dispute.status], "st-" + p.dispute.status));
    }
    var expl = li.querySelector(".expl"), form = li.querySelector(".dform"), dbtn = li.querySelector(".dispute");
    dbtn.hidden = !p.disputable;
    var why = li.querySelector(".why");
    why.hidden = !(p.explanation && p.explanation.length);
    why.onclick = function () {
      if (!expl.hidden) { expl.hidden = true; return; }
      expl.textContent = "";
      p.explanation.forEach(function (st) {
        var amt = st.amount_vnd ? " (" + vnd(st.amount_vnd) + ")" : "";
        expl.appendChild(el("p", st.vi + amt));
        expl.appendChild(el("p", st.en + amt, "en"));
      });
      expl.hidden = false;
    };
    dbtn.onclick = function () { form.hidden = !form.hidden; };
    form.onsubmit = function (ev) {
      ev.preventDefault();
      api("POST", "/v1/me/disputes", { kind: "parking_session", charge_id: p.id, reason: form.reason.value }).then(function () {
        say("Đã gửi khiếu nại", "Dispute sent");
        return refresh();
      }, function (e) { say("Không gửi được khiếu nại", e.message); });
    };
    return li;
  }

  function loadParking() {
    var q = "?limit=50&to=" + ymd(new Date()) + "&from=" + ymd(new Date(Date.now() - 30 * 86400e3));
    return api("GET", "/v1/me/parking" + q).then(function (r) {
      var ul = $("parking");
      ul.textContent = "";
      r.sessions.forEach(function (p) { ul.appendChild(park(p)); });
      $("parking-card").hidden = !r.sessions.length;
    });
  }

  function loadDisputes() {
    return api("GET", "/v1/me/disputes").then(function (r) {
      var ul = $("disputes");
      ul.textContent = "";
      r.disputes.forEach(function (d) {
        var li = el("li", null, "card dispute-item");
        li.dataset.dispute = d.id;
        li.appendChild(el("div", (d.kind === "journey" ? "Chuyến · Trip #" : "Gửi xe · Parking #") + d.charge_id + " · " + d.charged_text + " · " + statusVI[d.status] + " · " + statusEN[d.status], "st-" + d.status));
        li.appendChild(el("div", d.reason, "small"));
        if (d.resolution) { li.appendChild(el("div", (d.refund_text ? "Hoàn · Refunded " + d.refund_text + ": " : "") + d.resolution, "small")); }
        ul.appendChild(li);
      });
      $("disputes-card").hidden = !r.disputes.length;
    });
  }

  function refresh() {
    return Promise.all([loadMe(), loadTrips(), loadParking(), loadDisputes()]).then(function () {
      document.body.dataset.ready = "1";
    }, function (e) { say("Không tải được dữ liệu", e.message); document.body.dataset.ready = "error"; });
  }

  $("range").onclick = function () {
    days = days ? 0 : 30;
    $("trips-title").textContent = days ? "Chuyến đi 30 ngày qua" : "Chuyến đi hôm nay";
    $("trips-title-en").textContent = days ? "· Last 30 days" : "· Today's trips";
    loadTrips();
  };
  $("statement").onclick = function () {
    var w = window.open("", "_blank");
    api("GET", "/v1/me/statements/" + ymd(new Date()).slice(0, 7)).then(function (html) {
      var u = URL.createObjectURL(new Blob([html], { type: "text/html" }));
      if (w) { w.location = u; } else { location = u; }
    }, function (e) { if (w) { w.close(); } say("Không tải được sao kê", e.message); });
  };

  if (!token) {
    say("Hãy mở trang này từ ứng dụng VNeID", "Open this page from the VNeID app");
    document.body.dataset.ready = "no-token";
    return;
  }
  refresh();
})();
