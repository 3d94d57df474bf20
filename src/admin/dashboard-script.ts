/**
 * The dashboard's script (docs/reference/admin-api.md), inlined into the page by
 * `dashboard-page.ts`. Plain browser JavaScript, no build step: it polls `/api/v1/status` every
 * second, keeps a bounded history per listener for the chart, computes rates from counter deltas
 * (so the server keeps no per-viewer state), renders the listener, pool and kernel tables, and
 * asks `/api/v1/explain` only when the explain form is submitted. The bearer token comes from the
 * URL fragment, which browsers never send to the server.
 */
export const DASHBOARD_SCRIPT = `"use strict";
(() => {
  const HISTORY = 180;
  const COLORS = ["#58a6ff", "#3fb950", "#d2a8ff", "#f0883e", "#ff7b72", "#79c0ff", "#e3b341", "#56d4dd"];
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const history = new Map();
  let previous = null;
  let pollsOk = 0;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const fmt = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n));
  const fmtRate = (r) => r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
  const pct = (x) => x === null || x === undefined ? "—" : (x * 100).toFixed(x === 1 || x === 0 ? 0 : 1) + "%";
  const dur = (ms) => ms >= 86400000 ? (ms / 86400000) + "d" : ms >= 3600000 ? (ms / 3600000) + "h" : ms >= 60000 ? (ms / 60000) + "m" : (ms / 1000) + "s";
  const unitShort = { requests: "req/s", connections: "conn/s", datagrams: "dgram/s" };

  function updateRates(status, now) {
    const rates = new Map();
    for (const l of status.listeners) {
      let r = 0;
      if (previous !== null) {
        const before = previous.traffic.get(l.name);
        const dt = (now - previous.at) / 1000;
        if (before !== undefined && dt > 0) r = Math.max(0, l.traffic - before) / dt;
      }
      rates.set(l.name, r);
      let h = history.get(l.name);
      if (h === undefined) { h = []; history.set(l.name, h); }
      if (previous !== null) h.push(r);
      if (h.length > HISTORY) h.shift();
    }
    for (const name of [...history.keys()]) if (!rates.has(name)) history.delete(name);
    previous = { at: now, traffic: new Map(status.listeners.map((l) => [l.name, l.traffic])) };
    return rates;
  }

  function drawChart(listeners) {
    const canvas = $("chart");
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 44, right = 8, top = 8, bottom = 20;
    const pw = w - left - right, ph = h - top - bottom;
    let max = 1;
    let longest = 0;
    for (const l of listeners) {
      const data = history.get(l.name) || [];
      longest = Math.max(longest, data.length);
      for (const v of data) if (v > max) max = v;
    }
    // The time axis starts at one minute and grows to three as history accumulates.
    const span = Math.min(HISTORY, Math.max(60, longest));
    const step = niceStep(max / 4);
    max = Math.ceil(max / step) * step;
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#8b98a5"; g.strokeStyle = "#26303b"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    for (let v = 0; v <= max + 1e-9; v += step) {
      const y = top + ph - (v / max) * ph;
      g.beginPath(); g.moveTo(left, Math.round(y) + .5); g.lineTo(left + pw, Math.round(y) + .5); g.stroke();
      g.fillText(String(+v.toFixed(2)), left - 6, y);
    }
    g.textAlign = "center"; g.textBaseline = "top";
    for (let s = 0; s <= span; s += span > 90 ? 30 : 15) {
      const x = left + pw - (s / (span - 1)) * pw;
      if (x < left - 1) continue;
      g.fillText(s === 0 ? "now" : "-" + (s % 60 === 0 ? (s / 60) + "m" : s + "s"), x, top + ph + 5);
    }
    listeners.forEach((l, i) => {
      const data = history.get(l.name) || [];
      if (data.length < 2) return;
      const color = COLORS[i % COLORS.length];
      const xs = (k) => left + pw - ((data.length - 1 - k) / (span - 1)) * pw;
      const ys = (v) => top + ph - (v / max) * ph;
      g.beginPath();
      data.forEach((v, k) => k === 0 ? g.moveTo(xs(k), ys(v)) : g.lineTo(xs(k), ys(v)));
      g.strokeStyle = color; g.lineWidth = 1.8; g.lineJoin = "round"; g.stroke();
      g.lineTo(xs(data.length - 1), top + ph); g.lineTo(xs(0), top + ph); g.closePath();
      g.globalAlpha = 0.08; g.fillStyle = color; g.fill(); g.globalAlpha = 1;
    });
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  function renderHeader(s) {
    const up = s.pools.reduce((n, p) => n + p.members.filter((m) => m.up).length, 0);
    const all = s.pools.reduce((n, p) => n + p.members.length, 0);
    $("meta").innerHTML =
      "<span>version <b>" + esc(s.version) + "</b></span>" +
      "<span>config <b>#" + s.configVersion + "</b></span>" +
      "<span>uptime <b>" + uptime(s.uptimeSeconds) + "</b></span>" +
      "<span>members up <b>" + up + "/" + all + "</b></span>" +
      "<span>reloads <b>" + s.reloads.ok + "</b> ok · <b>" + s.reloads.error + "</b> refused</span>" +
      (s.stateStore
        ? "<span id='state-store'>state store <b>" + esc(s.stateStore.url) + "</b> <b class='" +
          (s.stateStore.up ? "ok" : "bad") + "'>" + (s.stateStore.up ? "up" : "down: serving from local tables") +
          "</b></span>"
        : "");
    const ready = $("ready");
    ready.textContent = s.ready ? "ready" : "not ready";
    ready.className = "badge " + (s.ready ? "ok" : "bad");
  }

  function uptime(sec) {
    sec = Math.floor(sec);
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }

  // Request-duration quantiles come from the histogram buckets (status JSON); HTTP listeners only.
  function latency(l, q) {
    const v = l.latency ? l.latency[q] : null;
    if (v === null || v === undefined) return '<span class="muted">–</span>';
    return v < 1 ? (v * 1000).toFixed(v < 0.01 ? 1 : 0) + " ms" : v.toFixed(2) + " s";
  }

  function renderListeners(s, rates) {
    let total = 0;
    const rows = s.listeners.map((l, i) => {
      const r = rates.get(l.name) || 0;
      total += r;
      const ratio = l.stickyHitRatio;
      const color = COLORS[i % COLORS.length];
      return '<tr data-listener="' + esc(l.name) + '">' +
        '<td><i style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:7px;background:' + color + '"></i>' +
        esc(l.name) + ' <span class="proto">' + esc(l.protocol) + "</span></td>" +
        '<td class="addr">' + esc(l.address) + ":" + l.port +
        // A listener that cannot bind says so where its address is, with the reason on hover.
        (l.bound === false ? ' <span class="badge bad unbound" title="' + esc(l.error || "") + '">not bound</span>' : "") +
        "</td>" +
        '<td class="num open">' + fmt(l.open) + "</td>" +
        '<td class="num rate">' + fmtRate(r) + ' <span class="muted">' + unitShort[l.unit] + "</span></td>" +
        '<td class="num traffic">' + fmt(l.traffic) + "</td>" +
        '<td class="num p50">' + latency(l, "p50") + "</td>" +
        '<td class="num p99">' + latency(l, "p99") + "</td>" +
        '<td><div class="ratio"><div class="track"><div class="fill" style="width:' + (ratio === null ? 0 : ratio * 100) + '%"></div></div>' +
        '<span class="hit">' + pct(ratio) + "</span></div></td></tr>";
    });
    $("listeners").innerHTML = rows.join("") || '<tr><td colspan="8" class="muted">no listeners</td></tr>';
    $("total-rate").textContent = fmtRate(total) + " /s now";
    $("legend").innerHTML = s.listeners.map((l, i) =>
      '<span><i style="background:' + COLORS[i % COLORS.length] + '"></i>' + esc(l.name) + " (" + unitShort[l.unit] + ")</span>").join("");
  }

  // Listeners the kernel serves (--l4-dataplane nftables): counters and binding sets read with nft.
  function renderKernel(s) {
    $("kernel").hidden = !s.kernel;
    if (!s.kernel) return;
    $("kernel-table").textContent = "nft list table inet " + s.kernel.table;
    $("kernel-listeners").innerHTML = s.kernel.listeners.map((l) =>
      "<tr><td>" + esc(l.name) + ' <span class="proto">' + esc(l.protocol) + "</span></td>" +
      '<td class="addr">' + esc(l.address) + ":" + l.port + "</td><td>" + esc(l.pool) + "</td>" +
      '<td class="num">' + fmt(l.connections) + "</td></tr>").join("") ||
      '<tr><td colspan="4" class="muted">no kernel listeners</td></tr>';
    $("kernel-pools").innerHTML = s.kernel.pools.map((p) =>
      "<tr><td>" + esc(p.name) + "</td><td>" + esc(p.algorithm) + '</td><td class="num">' +
      (p.bindings === null ? '<span class="muted">hash, no table</span>' : fmt(p.bindings)) + "</td></tr>").join("");
  }

  function renderPools(s) {
    const container = $("pools");
    const scroll = new Map();
    for (const el of container.querySelectorAll(".members")) scroll.set(el.dataset.pool, el.scrollTop);
    container.innerHTML = s.pools.map((p) => {
      const up = p.members.filter((m) => m.up).length;
      const byBindings = p.bindingTable;
      const shareTitle = byBindings ? "bindings (share)" : "share of traffic";
      const persistence = p.sessionPersistence
        ? '<span class="tag sticky">' + esc(p.sessionPersistence) + (p.persistenceTimeoutMs ? " · " + dur(p.persistenceTimeoutMs) : "") +
          (p.cookieName ? " · " + esc(p.cookieName) : "") + "</span>"
        : "";
      const d = p.decisions;
      const decisions = p.sessionPersistence
        ? '<div class="decisions">' + ["hit", "miss", "expired", "invalid", "redispatch"].map((k) =>
            "<span>" + k + " <b>" + fmt(d[k]) + "</b></span>").join("") + "</div>"
        : "";
      // Bars are scaled to the largest share of the pool, so 50 members of 2% each still show
      // their differences; the label gives the true share.
      const shareOf = (m) => (byBindings ? m.bindingShare : m.trafficShare) || 0;
      const top = Math.max(0, ...p.members.map(shareOf));
      // Members that are down or draining come first: with 50 members they would hide below the fold.
      const rank = (m) => (!m.up ? 0 : m.draining ? 1 : 2);
      const ordered = p.members.map((m, i) => [m, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map((x) => x[0]);
      const strip = p.members.length > 12
        ? '<div class="strip" title="one square per member">' + p.members.map((m) =>
            '<i class="' + (!m.up ? "down" : m.draining ? "drain" : "") + '" title="' + esc(m.endpoint) + '"></i>').join("") + "</div>"
        : "";
      const members = ordered.map((m) => {
        const state = !m.up ? "down" : m.draining ? "drain" : m.weight === 0 ? "off" : "";
        const share = byBindings ? m.bindingShare : m.trafficShare;
        const width = top > 0 ? (shareOf(m) / top) * 100 : 0;
        const label = byBindings ? fmt(m.bindings) + " · " + pct(share) : pct(share);
        return '<div class="m' + (m.up ? "" : " isdown") + '" data-member="' + esc(p.name + "/" + m.endpoint) + '" title="' +
          esc((m.name ? m.name + " " : "") + m.endpoint + (m.up ? " up" : " down") + (m.draining ? ", draining" : "") + ", weight " + m.weight +
          ", " + m.total + " total") + '">' +
          '<div class="dot ' + state + '"></div>' +
          '<div class="ep">' + (m.name ? '<span class="name">' + esc(m.name) + "</span> " : "") + esc(m.endpoint) + "</div>" +
          '<div class="r muted">' + m.weight + "</div>" +
          '<div class="r active">' + fmt(m.activeConnections) + "</div>" +
          '<div class="r total">' + fmt(m.total) + "</div>" +
          '<div class="share"><div class="track"><div class="fill" style="width:' + width.toFixed(1) + '%"></div></div>' +
          "<span>" + label + "</span></div></div>";
      }).join("");
      return '<article class="panel pool" data-pool="' + esc(p.name) + '">' +
        "<h3>" + esc(p.name) + ' <span class="tag">' + esc(p.algorithm) + "</span>" + persistence + "</h3>" +
        '<div class="sum"><span>members up <b>' + up + "/" + p.members.length + "</b></span>" +
        "<span>rate <b>" + fmtRate(p.requestRate) + "</b>/s</span>" +
        (p.bindingTable ? "<span>bindings <b>" + fmt(p.bindings) + "</b></span>" : "") +
        (p.sessionPersistence ? "<span>hit ratio <b>" + pct(p.stickyHitRatio) + "</b></span>" : "") +
        (p.noMember ? '<span style="color:var(--down)">refused <b>' + fmt(p.noMember) + "</b></span>" : "") + "</div>" +
        decisions + strip +
        '<div class="members" data-pool="' + esc(p.name) + '">' +
        '<div class="m head"><div></div><div>member</div><div class="r">wt</div><div class="r">active</div><div class="r">total</div><div>' + shareTitle + "</div></div>" +
        (members || '<div class="muted" style="padding:8px 2px">no members</div>') + "</div></article>";
    }).join("");
    for (const el of container.querySelectorAll(".members")) {
      const top = scroll.get(el.dataset.pool);
      if (top) el.scrollTop = top;
    }
  }

  // The listener choices follow the configuration; rebuilt only when the names change, so a
  // selection survives the polls.
  function renderExplainListeners(s) {
    const select = $("explain-listener");
    const names = s.listeners.map((l) => l.name);
    if (select.dataset.names === JSON.stringify(names)) return;
    const keep = select.value;
    select.innerHTML = s.listeners.map((l) =>
      '<option value="' + esc(l.name) + '">' + esc(l.name) + " (" + esc(l.protocol) + ")</option>").join("");
    if (names.includes(keep)) select.value = keep;
    select.dataset.names = JSON.stringify(names);
  }

  function renderExplain(e) {
    const key = e.key;
    const d = key && key.decoded;
    const keyText = key === null ? "none (no session persistence here)"
      : !key.found ? key.type + ": not found"
      : key.type + ": names " + (d && d.member ? d.member : "no member") +
        (d && d.ageMs !== null ? ", issued " + dur(Math.round(d.ageMs / 1000) * 1000) + " ago" : "") +
        (d && d.idleMs !== null ? ", idle " + dur(Math.round(d.idleMs / 1000) * 1000) : "") +
        (d && d.expired ? ", expired" : "") + (d && d.forged ? ", forged" : "") +
        (d && d.refused && !d.forged ? ", " + d.refused : "");
    const rows = e.members.map((m) =>
      '<tr class="' + (m.member === e.chosen ? "chosen" : "") + '" data-explain-member="' + esc(m.member) + '">' +
      "<td>" + (m.member === e.chosen ? "→" : "") + "</td>" +
      '<td class="addr">' + (m.name ? esc(m.name) + " " : "") + esc(m.member) + "</td>" +
      '<td class="' + (m.eligible ? "ok" : "no") + '">' + (m.eligible ? "yes" : "no") + "</td>" +
      "<td>" + esc(m.why) + "</td></tr>").join("");
    $("explain-answer").innerHTML =
      '<div class="verdict">→ <b id="explain-chosen">' + esc(e.chosen === null ? "no member" : (e.chosenName ? e.chosenName + " " : "") + e.chosen) + "</b>" +
      (e.result ? ' <span class="tag sticky" id="explain-result">' + esc(e.result) + "</span>" : "") + "</div>" +
      '<div id="explain-reason">' + esc(e.reason) + "</div>" +
      '<div class="facts" style="margin-top:6px"><span>rule <b>' + esc(e.rule ? (e.rule.host || "*") + " " + (e.rule.path || "/") : "—") + "</b></span>" +
      "<span>pool <b>" + esc(e.pool === null ? "—" : e.pool) + "</b></span>" +
      (e.algorithm ? "<span>algorithm <b>" + esc(e.algorithm) + "</b></span>" : "") +
      "<span>key <b>" + esc(keyText) + "</b></span></div>" +
      (rows ? '<div class="scroll-x"><table><thead><tr><th></th><th>member</th><th>eligible</th><th>why</th></tr></thead><tbody>' +
        rows + "</tbody></table></div>" : "");
  }

  $("explain-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of ["listener", "client", "cookie", "host", "path"]) {
      const value = $("explain-" + name).value.trim();
      if (value !== "") params.set(name, value);
    }
    try {
      const res = await fetch("api/v1/explain?" + params, { headers, cache: "no-store" });
      const body = await res.json();
      if (!res.ok) {
        $("explain-answer").innerHTML = '<div class="err" id="explain-error">' + esc(body.error || "HTTP " + res.status) + "</div>";
        return;
      }
      renderExplain(body);
    } catch (err) {
      $("explain-answer").innerHTML = '<div class="err" id="explain-error">' + esc(err && err.message ? err.message : err) + "</div>";
    }
  });

  async function poll() {
    try {
      const res = await fetch("api/v1/status", { headers, cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const status = await res.json();
      const rates = updateRates(status, performance.now());
      renderHeader(status);
      renderListeners(status, rates);
      renderPools(status);
      renderExplainListeners(status);
      renderKernel(status);
      drawChart(status.listeners);
      $("error").style.display = "none";
      pollsOk++;
      document.body.dataset.polls = String(pollsOk);
    } catch (err) {
      const e = $("error");
      e.textContent = "disconnected: " + (err && err.message ? err.message : err);
      e.style.display = "inline-block";
    } finally {
      setTimeout(poll, 1000);
    }
  }
  window.addEventListener("resize", () => previous && drawChart([...history.keys()].map((name) => ({ name }))));
  poll();
})();
`;
