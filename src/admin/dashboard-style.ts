/**
 * The dashboard's style sheet (docs/reference/admin-api.md), inlined into the page by
 * `dashboard-page.ts` so that the page loads no external resource: a dark theme, panels, tables,
 * ratio bars and the explain form.
 */
export const DASHBOARD_CSS = `  :root {
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
`;
