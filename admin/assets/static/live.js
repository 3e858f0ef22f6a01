// wharf status page: live sessions, bans and events over Server-Sent Events.
// The page works without it; this only keeps it current.
"use strict";
(function () {
  var body = document.body;
  var token = body.dataset.token || "";
  var canChange = body.dataset.canChange === "true";
  var multiNode = false;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "class") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null || c === false) continue;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  function bytes(n) {
    if (n < 1000) return n + " B";
    var units = "KMGTPE", i = -1;
    do { n /= 1000; i++; } while (n >= 1000 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i] + "B";
  }

  function duration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }

  function stamp(iso) { return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC"); }

  function timeEl(iso, mode) {
    var t = el("time", { datetime: iso, title: stamp(iso) });
    t.setAttribute(mode, "");
    tick(t);
    return t;
  }

  function tick(t) {
    var at = Date.parse(t.getAttribute("datetime"));
    if (isNaN(at)) return;
    t.textContent = duration(t.hasAttribute("data-left") ? at - Date.now() : Date.now() - at);
  }

  function form(action, fields, label, cls) {
    var f = el("form", { method: "post", action: action });
    fields.csrf = token;
    Object.keys(fields).forEach(function (k) { f.appendChild(el("input", { type: "hidden", name: k, value: fields[k] })); });
    f.appendChild(el("button", { type: "submit", class: cls || "", text: label }));
    return f;
  }

  function td(label, cls) {
    var c = el("td", { "data-label": label });
    if (cls) c.className = cls;
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) c.appendChild(typeof arguments[i] === "string" ? document.createTextNode(arguments[i]) : arguments[i]);
    return c;
  }

  function transfer(t) {
    if (!t) return el("span", { class: "muted", text: "idle" });
    var frag = document.createDocumentFragment();
    frag.appendChild(el("div", { class: "xfer-head" },
      el("span", { class: "dir dir-" + t.direction, text: t.direction }), " ",
      el("span", { class: "path mono", title: t.path, text: t.path })));
    var known = t.size !== null && t.size !== undefined;
    var pct = known && t.size > 0 ? Math.min(100, Math.floor(t.bytes * 100 / t.size)) : 0;
    var bar = el("progress");
    if (known) { bar.max = Math.max(t.size, 1); bar.value = Math.min(t.bytes, bar.max); bar.textContent = pct + "%"; }
    frag.appendChild(bar);
    var nums = el("div", { class: "xfer-nums" },
      el("span", { text: bytes(t.bytes) + (known ? " of " + bytes(t.size) + " · " + pct + "%" : " so far") }),
      el("span", { text: bytes(t.bytes_per_second) + "/s" }));
    if (known && t.bytes_per_second > 0 && t.size >= t.bytes) {
      nums.appendChild(el("span", { text: duration((t.size - t.bytes) / t.bytes_per_second * 1000) + " left" }));
    }
    frag.appendChild(nums);
    return frag;
  }

  function sessions(list) {
    var tb = $("sessions-body");
    if (!tb) return;
    var nodes = {};
    list.forEach(function (s) { nodes[s.node] = true; });
    multiNode = body.dataset.multiNode === "true" || Object.keys(nodes).length > 1;
    list.sort(function (a, b) { return a.connected_at < b.connected_at ? -1 : a.connected_at > b.connected_at ? 1 : (a.id < b.id ? -1 : 1); });
    var rows = list.map(function (s) {
      var client = el("span", { class: "sub" }, s.listener);
      if (s.tls) { client.appendChild(document.createTextNode(" ")); client.appendChild(el("span", { class: "tag tls", text: "TLS" })); }
      if (multiNode) client.appendChild(document.createTextNode(" · " + s.node));
      var tr = el("tr", { "data-id": s.id },
        td("User", null, el("span", { class: "strong" }, s.user ? s.user : el("em", { class: "muted", text: "not logged in" })), el("span", { class: "sub mono", text: s.id })),
        td("Client", null, el("span", { class: "mono", text: s.remote }), client),
        td("Transfer", "xfer", transfer(s.transfer)),
        td("Connected", null, timeEl(s.connected_at, "data-ago"), el("span", { class: "sub", text: "idle " + duration(s.idle_seconds * 1000) })));
      if (canChange) {
        var a = el("td", { class: "actions" },
          form("/kick", { id: s.id }, "Kick", "danger"),
          form("/ban", { address: s.remote }, "Ban"));
        a.lastChild.lastChild.title = "Ban " + s.remote;
        tr.appendChild(a);
      }
      return tr;
    });
    tb.replaceChildren.apply(tb, rows);
    $("n-sessions").textContent = list.length;
    $("sessions-empty").hidden = list.length > 0;
  }

  function bans(list) {
    var tb = $("bans-body");
    if (!tb) return;
    list.sort(function (a, b) { return a.until < b.until ? -1 : 1; });
    var rows = list.map(function (b) {
      var reason = td("Reason", null, el("span", { class: "tag " + b.reason, text: b.reason }));
      if (b.failures) reason.appendChild(el("span", { class: "sub", text: b.failures + " failed logins" }));
      var tr = el("tr", null,
        td("Address", "mono", b.address),
        td("Until", null, timeEl(b.until, "data-left"), el("span", { class: "sub", text: "left" })),
        reason,
        td("Note", null, b.note));
      if (canChange) tr.appendChild(el("td", { class: "actions" }, form("/unban", { address: b.address }, "Unban")));
      return tr;
    });
    tb.replaceChildren.apply(tb, rows);
    $("n-bans").textContent = list.length;
    $("st-bans").textContent = list.length;
    $("bans-empty").hidden = list.length > 0;
  }

  function status(st) {
    $("st-sessions").textContent = st.sessions;
    $("st-transfers").textContent = st.transfers;
    var state = $("config-state");
    if (state) {
      state.replaceChildren(
        st.config_ok ? el("span", { class: "tag ok", text: "in force" }) : el("span", { class: "tag off", text: "last reload rejected" }),
        " loaded ", timeEl(st.config_loaded_at, "data-ago"), " ago");
    }
    var errs = $("config-errors");
    if (errs) {
      errs.textContent = (st.config_errors || []).join("\n");
      errs.hidden = !st.config_errors || st.config_errors.length === 0;
    }
  }

  function activity(ev) {
    var list = $("events");
    if (!list) return;
    $("activity").hidden = false;
    $("events-empty").hidden = true;
    var t = ev.time ? new Date(ev.time) : new Date();
    var what = ev.path || "";
    if (ev.target) what += " \u2192 " + ev.target;
    var li = el("li", null,
      el("time", { datetime: t.toISOString(), text: t.toLocaleTimeString() }),
      el("span", { class: "kind", text: ev.event || "event" }),
      el("span", { text: ev.user || "" }),
      el("span", { class: "mono", text: ev.remote || "" }),
      what ? el("span", { class: "mono path", text: what }) : null,
      ev.bytes ? el("span", { class: "muted", text: bytes(ev.bytes) }) : null,
      ev.result ? el("span", { class: "tag " + (ev.result === "complete" ? "ok" : "off"), text: ev.result }) : null);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
  }

  function parse(e) { try { return JSON.parse(e.data); } catch (_) { return null; } }

  var live = $("live");
  function connect() {
    if (!window.EventSource) return;
    var es = new EventSource("/api/v1/events?live=1");
    es.onopen = function () { live.hidden = false; live.classList.remove("off"); live.textContent = "live"; };
    es.onerror = function () {
      live.hidden = false;
      live.classList.add("off");
      live.textContent = es.readyState === EventSource.CLOSED ? "offline: reload the page" : "reconnecting";
    };
    es.addEventListener("sessions", function (e) { var v = parse(e); if (v) sessions(v); });
    es.addEventListener("bans", function (e) { var v = parse(e); if (v) bans(v); });
    es.addEventListener("status", function (e) { var v = parse(e); if (v) status(v); });
    es.onmessage = function (e) { var v = parse(e); if (v) activity(v); };
  }

  setInterval(function () {
    document.querySelectorAll("time[data-ago], time[data-left]").forEach(tick);
  }, 1000);
  connect();
})();
