/**
 * The live dashboard at `/` (docs/reference/admin-api.md): one static page with inline CSS and JavaScript, no build
 * step and no external resource. It polls `/api/v1/status` every second and computes rates
 * client-side from counter deltas, so the server keeps no per-viewer state. A token for a
 * non-loopback admin listener is passed in the URL fragment (`/#token=…`), which browsers never send
 * to the server or write to its logs. The "why does a client go there" form asks
 * `/api/v1/explain` (docs/operations.md) only when submitted.
 */
import { DASHBOARD_SCRIPT } from "./dashboard-script.js";
import { DASHBOARD_CSS } from "./dashboard-style.js";

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>stickylb</title>
<style>
${DASHBOARD_CSS}</style>
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
${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
