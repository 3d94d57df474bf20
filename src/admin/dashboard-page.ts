/**
 * The live dashboard at `/` (docs/reference/admin-api.md): one static page with inline CSS and JavaScript, no build
 * step and no external resource. It polls `/api/v1/status` every second and computes rates
 * client-side from counter deltas, so the server keeps no per-viewer state. A token for a
 * non-loopback admin listener is passed in the URL fragment (`/#token=…`), which browsers never send
 * to the server or write to its logs. The "why does a client go there" form asks
 * `/api/v1/explain` (docs/operations.md) only when submitted.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>stickylb</title>
<style>
  :root {
    --bg: #0f1419; --panel: #171d24; --panel2: #1d252e; --line: #2a3440; --text: #e6edf3;
    --muted: #8b98a5; --up: #3fb950; --down: #f85149; --drain: #d29922; --accent: #58a6ff;
    --bar: #2f81f7; --bar-bg: #26303b;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
    font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line);
    background: var(--panel); position: sticky; top: 0; z-index: 2; }
  header h1 { font-size: 17px; margin: 0; letter-spacing: .3px; }
  header h1 span { color: var(--accent); }
  .meta { color: var(--muted); display: flex; gap: 14px; flex-wrap: wrap; }
  .meta b { color: var(--text); font-weight: 600; }
  .badge { padding: 2px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
  .badge.ok { background: rgba(63,185,80,.15); color: var(--up); }
  .badge.bad { background: rgba(248,81,73,.15); color: var(--down); }
  main { padding: 16px 20px 28px; display: grid; gap: 16px; max-width: 1500px; margin: 0 auto; }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .panel h2 span { text-transform: none; letter-spacing: 0; font-weight: 400; font-size: 12px; }
  .panel h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0 0 10px;
    font-weight: 600; display: flex; justify-content: space-between; align-items: baseline; }
  .top { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
  @media (max-width: 1000px) { .top { grid-template-columns: 1fr; } }
  #chart { width: 100%; height: 210px; display: block; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px; color: var(--muted); font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
  table { width: 100%; border-collapse: collapse; }
  th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; padding: 4px 6px;
    border-bottom: 1px solid var(--line); white-space: nowrap; }
  td { padding: 5px 6px; border-bottom: 1px solid #202932; white-space: nowrap; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .proto { font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 4px; background: var(--panel2);
    color: var(--accent); border: 1px solid var(--line); }
  .addr { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
  .scroll-x { overflow-x: auto; }
  .ratio { display: flex; align-items: center; gap: 6px; min-width: 104px; }
  .ratio .track { flex: 1; height: 6px; background: var(--bar-bg); border-radius: 3px; overflow: hidden; min-width: 40px; }
  .ratio .fill { height: 100%; background: var(--up); }
  .ratio span { min-width: 46px; text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .pools { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 400px), 1fr)); gap: 16px; }
  .pool h3 { margin: 0; font-size: 15px; display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
  .tag { font-size: 11px; font-weight: 600; padding: 1px 7px; border-radius: 4px; background: var(--panel2);
    border: 1px solid var(--line); color: var(--muted); }
  .tag.sticky { color: #d2a8ff; border-color: #3b2d55; }
  .pool .sum { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); margin: 6px 0 8px; font-size: 12px; }
  .pool .sum b { color: var(--text); font-variant-numeric: tabular-nums; }
  .decisions { display: flex; gap: 6px; flex-wrap: wrap; margin-bottom: 8px; }
  .decisions span { font-size: 11px; padding: 1px 6px; border-radius: 4px; background: var(--panel2); color: var(--muted); }
  .decisions span b { color: var(--text); font-variant-numeric: tabular-nums; }
  .strip { display: flex; flex-wrap: wrap; gap: 3px; margin-bottom: 8px; }
  .strip i { width: 9px; height: 9px; border-radius: 2px; background: var(--up); opacity: .85; }
  .strip i.down { background: var(--down); opacity: 1; }
  .strip i.drain { background: var(--drain); opacity: 1; }
  .members { max-height: 372px; overflow-y: auto; border-top: 1px solid var(--line); }
  .m { display: grid; grid-template-columns: 10px minmax(0, 1fr) 26px 44px 52px minmax(120px, 1.15fr);
    gap: 8px; align-items: center; padding: 4px 2px; border-bottom: 1px solid #202932; font-variant-numeric: tabular-nums; }
  .m.head { color: var(--muted); font-size: 11px; position: sticky; top: 0; background: var(--panel); z-index: 1; }
  .m .r { text-align: right; }
  .dot { width: 9px; height: 9px; border-radius: 50%; background: var(--up); box-shadow: 0 0 0 2px rgba(63,185,80,.18); }
  .dot.down { background: var(--down); box-shadow: 0 0 0 2px rgba(248,81,73,.18); }
  .dot.drain { background: var(--drain); box-shadow: 0 0 0 2px rgba(210,153,34,.18); }
  .dot.off { background: var(--muted); box-shadow: none; }
  .m .ep { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
    overflow: hidden; text-overflow: ellipsis; }
  .m.isdown .ep { color: var(--down); }
  .m .ep .name { font-family: inherit; font-weight: 600; }
  .share { display: flex; align-items: center; gap: 6px; }
  .share .track { flex: 1; height: 10px; background: var(--bar-bg); border-radius: 3px; overflow: hidden; }
  .share .fill { height: 100%; background: var(--bar); border-radius: 3px; transition: width .4s ease; }
  .share span { min-width: 64px; text-align: right; color: var(--muted); font-size: 12px; white-space: nowrap; }
  .muted { color: var(--muted); }
  #error { display: none; }
  .explain form { display: flex; flex-wrap: wrap; gap: 8px 10px; align-items: end; }
  .explain label { display: flex; flex-direction: column; gap: 3px; color: var(--muted); font-size: 12px; }
  .explain input, .explain select { background: var(--panel2); color: var(--text); border: 1px solid var(--line);
    border-radius: 5px; padding: 5px 7px; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  .explain input.wide { width: 320px; }
  .explain button { background: var(--bar); color: #fff; border: 0; border-radius: 5px; padding: 6px 14px;
    font-weight: 600; cursor: pointer; }
  .explain .answer { margin-top: 10px; }
  .explain .answer:empty { display: none; }
  .explain .verdict { font-size: 14px; margin-bottom: 6px; }
  .explain .verdict b { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  .explain .facts { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin-bottom: 6px; }
  .explain .facts b { color: var(--text); font-weight: 500; }
  .explain td.ok { color: var(--up); }
  .explain td.no { color: var(--down); }
  .explain tr.chosen td { background: rgba(47,129,247,.12); }
  .explain .err { color: var(--down); }
  footer { color: var(--muted); text-align: center; font-size: 12px; padding-bottom: 16px; }
</style>
</head>
<body>
<header>
  <h1><span>sticky</span>lb</h1>
  <div class="meta" id="meta">connecting…</div>
  <div style="flex:1"></div>
  <span class="badge bad" id="error">disconnected</span>
  <span class="badge ok" id="ready">…</span>
</header>
<main>
  <div class="top">
    <section class="panel">
      <h2>Traffic per second <span class="muted" id="total-rate"></span></h2>
      <canvas id="chart" aria-label="requests per second"></canvas>
      <div class="legend" id="legend"></div>
    </section>
    <section class="panel">
      <h2>Listeners <span class="muted">sticky hit ratio = hits ÷ affinity decisions of its pools</span></h2>
      <div class="scroll-x"><table>
        <thead><tr><th>listener</th><th>address</th><th class="num">open</th><th class="num">rate</th>
          <th class="num">total</th><th class="num">p50</th><th class="num">p99</th><th>hit ratio</th></tr></thead>
        <tbody id="listeners"></tbody>
      </table></div>
    </section>
  </div>
  <section class="panel explain">
    <h2>Why does a client go there? <span class="muted">asks /api/v1/explain; changes nothing</span></h2>
    <form id="explain-form">
      <label>listener <select id="explain-listener" name="listener"></select></label>
      <label>client IP <input id="explain-client" name="client" value="127.0.0.1" required></label>
      <label>Cookie header (optional) <input id="explain-cookie" name="cookie" class="wide" placeholder="STICKYLB=…; JSESSIONID=…"></label>
      <label>host <input id="explain-host" name="host" placeholder="HTTP only"></label>
      <label>path <input id="explain-path" name="path" placeholder="/"></label>
      <button type="submit" id="explain-go">Explain</button>
    </form>
    <div class="answer" id="explain-answer"></div>
  </section>
  <section class="pools" id="pools"></section>
  <section class="panel" id="kernel" hidden>
    <h2>Kernel plane <span class="muted" id="kernel-table"></span></h2>
    <div class="scroll-x"><table>
      <thead><tr><th>listener</th><th>address</th><th>pool</th><th class="num">connections / flows</th></tr></thead>
      <tbody id="kernel-listeners"></tbody>
    </table></div>
    <div class="scroll-x"><table>
      <thead><tr><th>pool</th><th>algorithm</th><th class="num">bindings</th></tr></thead>
      <tbody id="kernel-pools"></tbody>
    </table></div>
  </section>
</main>
<footer>polls <code>/api/v1/status</code> every second · metrics at <a href="metrics" style="color:var(--accent)">/metrics</a></footer>
<script>
"use strict";
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
</script>
</body>
</html>
`;
