// The microbatch web UI: polls /api/v1/progress and /api/v1/status once a
// second and redraws its charts and tables. ECharts (vendor/) draws with
// its SVG renderer.
"use strict";

const PHASES = [
  ["plan", "plan", "#91cc75"],
  ["walWait", "WAL wait", "#fac858"],
  ["fetchWait", "fetch", "#5470c6"],
  ["aggregate", "aggregate", "#73c0de"],
  ["sink", "sink", "#ee6666"],
  ["commit", "commit", "#9a60b4"],
];
const COLORS = { input: "#5470c6", processed: "#ee6666", delay: "#fc8452", state: "#3ba272", interval: "#888888",
  backpressure: "#9a60b4", watermark: "#3ba272", late: "#ee6666" };

function get(path) {
  const headers = window.mbToken ? { Authorization: "Bearer " + window.mbToken } : {};
  return fetch(path, { headers, cache: "no-store" }).then((r) => {
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  });
}

const charts = {};
function chart(id) {
  if (!charts[id]) {
    charts[id] = echarts.init(document.getElementById(id), null, { renderer: "svg" });
  }
  return charts[id];
}

function base(batches, yName) {
  return {
    animation: false,
    grid: { left: 60, right: 20, top: 30, bottom: 30 },
    tooltip: { trigger: "axis" },
    legend: { top: 0, type: "scroll" },
    xAxis: { type: "category", name: "batch", data: batches },
    yAxis: { type: "value", name: yName },
  };
}

// show unhides the elements of selector (a chart is drawn only once its
// box is visible: ECharts sizes it then).
function show(selector, on) {
  for (const el of document.querySelectorAll(selector)) el.hidden = !on;
}

const iso = (ms) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");

function line(name, data, color) {
  return { name, type: "line", data, color, showSymbol: true, symbolSize: 4 };
}

const fmt = (v) => Math.round(v).toLocaleString("en-US");
const num = (v) => (Math.round(v * 1000) / 1000).toString();

function offsetsOf(p) {
  const src = p.sources[0] || {};
  const out = [];
  for (const topic of Object.keys(src.endOffset || {}).sort()) {
    for (const part of Object.keys(src.endOffset[topic]).sort((a, b) => a - b)) {
      const start = src.startOffset[topic][part];
      const end = src.endOffset[topic][part];
      const latest = (src.latestOffset[topic] || {})[part] ?? end;
      out.push({ key: topic + "-" + part, start, end, lag: Math.max(latest - end, 0) });
    }
  }
  return out;
}

function render(progress, status) {
  document.getElementById("name").textContent = status.name || "microbatch";
  document.title = (status.name || "microbatch") + " · microbatch";
  let state = status.running ? "running" : "stopped";
  if (status.batchInFlight >= 0) state += ", batch " + status.batchInFlight + " in flight";
  document.getElementById("state").textContent = state;
  const err = document.getElementById("error");
  err.hidden = !status.lastError;
  err.textContent = status.lastError || "";

  const last = progress[progress.length - 1];
  const totalRows = progress.reduce((n, p) => n + p.numInputRows, 0);
  document.getElementById("batches").textContent = progress.length;
  document.getElementById("input-rows").textContent = fmt(totalRows);
  if (last) {
    const lag = offsetsOf(last).reduce((n, o) => n + o.lag, 0);
    document.getElementById("last-batch").textContent = last.batchId;
    document.getElementById("input-rate").textContent = fmt(last.inputRowsPerSecond);
    document.getElementById("process-rate").textContent = fmt(last.processedRowsPerSecond);
    document.getElementById("lag").textContent = fmt(lag);
    const so = last.stateOperators[0];
    document.getElementById("state-rows").textContent = so ? fmt(so.numRowsTotal) : "–";
  }

  const ids = progress.map((p) => String(p.batchId));
  let o = base(ids, "rows/s");
  o.series = [line("input rate", progress.map((p) => p.inputRowsPerSecond), COLORS.input),
    line("process rate", progress.map((p) => p.processedRowsPerSecond), COLORS.processed)];
  chart("chart-rates").setOption(o, true);

  o = base(ids, "ms");
  o.series = PHASES.map(([key, label, color]) => ({
    name: label, type: "bar", stack: "phases", color, barMaxWidth: 24,
    data: progress.map((p) => p.microbatch.phaseDurationMs[key]),
  }));
  // The trigger interval: a batch longer than it delays the next one.
  if (progress.some((p) => p.microbatch.triggerIntervalMs > 0)) {
    o.series.push({ name: "trigger interval", type: "line", color: COLORS.interval, showSymbol: false,
      lineStyle: { type: "dashed" }, data: progress.map((p) => p.microbatch.triggerIntervalMs) });
  }
  chart("chart-duration").setOption(o, true);

  o = base(ids, "ms");
  o.series = [line("scheduling delay", progress.map((p) => p.microbatch.schedulingDelayMs), COLORS.delay)];
  chart("chart-delay").setOption(o, true);

  o = base(ids, "offsets");
  const byPart = {};
  progress.forEach((p, i) => {
    for (const r of offsetsOf(p)) {
      (byPart[r.key] = byPart[r.key] || new Array(progress.length).fill(null))[i] = r.lag;
    }
  });
  o.series = Object.keys(byPart).sort().map((k) => line(k, byPart[k]));
  chart("chart-lag").setOption(o, true);

  o = base(ids, "rows");
  o.series = [line("state rows", progress.map((p) => (p.stateOperators[0] || { numRowsTotal: 0 }).numRowsTotal), COLORS.state)];
  chart("chart-state").setOption(o, true);

  // The rate backpressure planned each batch with, when it is on.
  const bp = progress.some((p) => p.microbatch.backpressureRate > 0);
  show("#fig-backpressure, .bp", bp);
  if (bp) {
    o = base(ids, "rows/s");
    o.series = [line("backpressure rate", progress.map((p) => p.microbatch.backpressureRate ?? null), COLORS.backpressure),
      line("process rate", progress.map((p) => p.processedRowsPerSecond), COLORS.processed)];
    chart("chart-backpressure").setOption(o, true);
    document.getElementById("bp-rate").textContent = last.microbatch.backpressureRate ? fmt(last.microbatch.backpressureRate) : "–";
  }

  // The watermark (a time axis) and the late rows it dropped, when the
  // query has one.
  const wmOf = (p) => (p.eventTime && p.eventTime.watermark ? Date.parse(p.eventTime.watermark) : null);
  const lateOf = (p) => (p.stateOperators[0] || { numRowsDroppedByWatermark: 0 }).numRowsDroppedByWatermark;
  const wm = progress.some((p) => wmOf(p) !== null);
  show("#fig-watermark, .wm", wm);
  if (wm) {
    o = base(ids, "watermark");
    o.yAxis = [{ type: "time", name: "watermark", scale: true },
      { type: "value", name: "late rows", minInterval: 1, splitLine: { show: false } }];
    o.series = [line("watermark", progress.map(wmOf), COLORS.watermark),
      { name: "late rows", type: "bar", yAxisIndex: 1, color: COLORS.late, barMaxWidth: 24, data: progress.map(lateOf) }];
    chart("chart-watermark").setOption(o, true);
    const lastWM = wmOf(last);
    document.getElementById("watermark").textContent = lastWM === null ? "–" : iso(lastWM);
    document.getElementById("late-rows").textContent = fmt(progress.reduce((n, p) => n + lateOf(p), 0));
  }

  const body = document.querySelector("#batch-table tbody");
  body.replaceChildren(...progress.slice().reverse().map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.batch = p.batchId;
    const ranges = offsetsOf(p).filter((r) => r.end > r.start).map((r) => r.key + " [" + r.start + ", " + r.end + ")").join(" ");
    const m = p.microbatch;
    const cells = [p.batchId, p.timestamp.replace("T", " ").replace("Z", ""), p.numInputRows, p.sink.numOutputRows,
      num(m.phaseDurationMs.total), num(m.schedulingDelayMs), ranges, m.corruptRecords + " / " + m.droppedRecords + " / " + m.skippedOffsets];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i === 6) td.className = "ranges";
      tr.appendChild(td);
    });
    return tr;
  }));
}

function renderInfo(status) {
  document.getElementById("query").textContent = status.query || "";
  const body = document.querySelector("#settings tbody");
  body.replaceChildren(...(status.settings || []).map((s) => {
    const tr = document.createElement("tr");
    for (const v of [s.key, s.value]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
}

let infoShown = false;
window.mbRefreshes = 0;
async function refresh() {
  try {
    const [progress, status] = await Promise.all([get("api/v1/progress?n=100"), get("api/v1/status")]);
    if (!infoShown) {
      renderInfo(status);
      infoShown = true;
    }
    render(progress, status);
    window.mbRefreshes++;
  } catch (e) {
    const err = document.getElementById("error");
    err.hidden = false;
    err.textContent = "cannot reach the job: " + e.message;
  }
}
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
refresh();
setInterval(refresh, 1000);
