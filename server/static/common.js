// Shared helpers of the page (window.RAG): DOM building, API calls with the key, number
// formatting, sortable tables, charts (the vendored uPlot), CSV export, the views and the
// document viewer. Server text always goes in as text nodes, never as HTML.
"use strict";

window.RAG = (() => {
  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function apiKey() {
    return ($("api-key")?.value || "").trim();
  }

  /** Request headers with the API key (if any); `extra` adds or overrides. */
  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const key = apiKey();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  /** fetch → {ok, status, body, response}; body is parsed JSON or null. */
  async function api(url, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = headers(opts.headers);
    const response = await fetch(url, opts);
    let body = null;
    try {
      body = await response.json();
    } catch (_) { /* not JSON */ }
    if (response.status === 401) $("key-box").open = true;
    return { ok: response.ok, status: response.status, body, response };
  }

  function errorText(result) {
    const msg = result && result.body && result.body.error && result.body.error.message;
    return msg || "请求失败（HTTP " + (result ? result.status : "?") + "）";
  }

  // -- numbers -------------------------------------------------------------------------

  function fmtNumber(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "";
    const abs = Math.abs(v);
    const opts = { maximumFractionDigits: 4 };
    if (abs >= 1e8) return (v / 1e8).toLocaleString("zh-CN", opts) + "亿";
    if (abs >= 1e4) return (v / 1e4).toLocaleString("zh-CN", opts) + "万";
    return v.toLocaleString("zh-CN", opts);
  }

  function fmtValue(f) {
    if (f.low !== null && f.high !== null && f.low !== undefined && f.low !== f.high) {
      return fmtNumber(f.low) + "–" + fmtNumber(f.high);
    }
    return fmtNumber(f.value) || "—";
  }

  /** The first four-digit year of a period or date string ("2014", "2013-03" → 2013). */
  function yearOf(text) {
    const m = /(\d{4})/.exec(text || "");
    return m ? Number(m[1]) : null;
  }

  // -- sortable tables -----------------------------------------------------------------

  const collator = new Intl.Collator("zh-CN", { numeric: true });

  const blank = (v) => v === null || v === undefined || v === "";

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return collator.compare(String(a), String(b));
  }

  /**
   * A table whose headers sort it (click or Enter/Space on the header button; again to
   * reverse). columns: [{label, value(row) → sort key, cell(row) → Node|string,
   * className, sortable}]; rows: any objects; `sort` ({column, descending}) starts sorted and
   * `onSort` hears each change, so a table drawn again can keep its order.
   */
  function sortableTable({ columns, rows, className, caption, sort, onSort }) {
    const table = el("table", "data-table" + (className ? " " + className : ""));
    if (caption) table.appendChild(el("caption", "visually-hidden", caption));
    const headRow = table.createTHead().insertRow();
    const body = table.createTBody();
    let order = rows.map((_, i) => i);
    let sortedBy = -1;
    let descending = false;

    function fill() {
      body.replaceChildren();
      for (const i of order) {
        const tr = body.insertRow();
        for (const c of columns) {
          const td = el("td", c.className);
          const content = c.cell ? c.cell(rows[i]) : c.value(rows[i]);
          if (content instanceof Node) td.appendChild(content);
          else td.textContent = content === null || content === undefined || content === "" ? "—" : String(content);
          tr.appendChild(td);
        }
      }
    }

    columns.forEach((c, n) => {
      const th = el("th");
      th.scope = "col";
      if (c.sortable === false) {
        th.textContent = c.label;
        headRow.appendChild(th);
        return;
      }
      const b = el("button", "sort", c.label);
      b.type = "button";
      const apply = (desc) => {
        descending = desc;
        sortedBy = n;
        order = rows.map((_, i) => i).sort((x, y) => {
          const a = c.value(rows[x]);
          const b = c.value(rows[y]);
          if (blank(a) || blank(b)) return (blank(a) - blank(b)) || x - y;  // blanks last, either way
          const r = compare(a, b);
          return (descending ? -r : r) || x - y;
        });
        for (const h of headRow.children) h.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        fill();
      };
      b.addEventListener("click", () => {
        apply(sortedBy === n ? !descending : false);
        if (onSort) onSort({ column: n, descending });
      });
      th.appendChild(b);
      headRow.appendChild(th);
      if (sort && sort.column === n) apply(Boolean(sort.descending));
    });
    if (sortedBy < 0) fill();
    return table;
  }

  // -- charts --------------------------------------------------------------------------

  const CHART_FONT = '12px "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';

  /**
   * A bar chart (categories) or a line chart (years) with uPlot, into `box`.
   * spec: {kind: "bar"|"line", labels: [...] (bar) | xs: [years] (line), values: [...],
   * label: series name, title}. The box gets role=img and a text summary for screen readers.
   */
  function chart(box, spec) {
    box.replaceChildren();
    const values = spec.values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null));
    if (!window.uPlot || !values.some((v) => v !== null)) return null;
    const bar = spec.kind === "bar";
    const xs = bar ? values.map((_, i) => i) : spec.xs;
    const room = box.clientWidth || (box.parentElement ? box.parentElement.clientWidth : 0);
    const width = Math.max(260, Math.min(room || 640, 1000));
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", (spec.title || spec.label || "图表") + "（" +
      (bar ? "柱状图" : "折线图") + "，" + values.length + " 个数据点，明细见下表）");
    const xAxis = { font: CHART_FONT, stroke: "#656d76", grid: { show: false } };
    if (bar) {
      xAxis.splits = () => xs;
      xAxis.values = (_u, ticks) => ticks.map((t) => {
        const s = String(spec.labels[t] ?? "");
        return s.length > 8 ? s.slice(0, 7) + "…" : s;
      });
    } else {
      xAxis.values = (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : ""));
    }
    const opts = {
      width,
      height: 240,
      title: spec.title || "",
      legend: { show: false },
      cursor: { show: true, points: { show: false } },
      scales: { x: { time: false, range: bar ? [-0.6, xs.length - 0.4] : undefined } },
      axes: [xAxis, { font: CHART_FONT, stroke: "#656d76", size: 84,
        values: (_u, ticks) => ticks.map((t) => fmtNumber(t)) }],
      series: [{}, {
        label: spec.label || "数值",
        stroke: "#b3261e",
        width: 2,
        fill: bar ? "rgba(179, 38, 30, 0.55)" : undefined,
        paths: bar ? window.uPlot.paths.bars({ size: [0.6, 64] }) : undefined,
        points: { show: !bar, size: 6, fill: "#b3261e" },
      }],
    };
    return new window.uPlot(opts, [xs, values], box);
  }

  // -- CSV -----------------------------------------------------------------------------

  function csvCell(v) {
    const s = v === null || v === undefined ? "" : String(v);
    // a leading = + - @ would run as a formula in a spreadsheet: quote it as text
    const safe = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
    return /[",\n\r]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
  }

  function toCSV(header, rows) {
    return "\ufeff" + [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type: type || "text/csv;charset=utf-8" }));
    const a = el("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // -- views ---------------------------------------------------------------------------

  const viewHooks = {};

  /** Show one view (chat, library, explorer); calls the view's hook on each show. */
  function showView(name) {
    for (const v of document.querySelectorAll("[data-view]:not(.tab)")) v.hidden = v.dataset.view !== name;
    for (const t of document.querySelectorAll(".tab")) {
      if (t.dataset.view === name) t.setAttribute("aria-current", "page");
      else t.removeAttribute("aria-current");
    }
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    if (viewHooks[name]) viewHooks[name]();
  }

  function onView(name, hook) {
    viewHooks[name] = hook;
  }

  // -- the document viewer -------------------------------------------------------------

  const viewer = $("viewer");
  const viewerText = $("viewer-text");

  /** Open a document's full text; with start/end, that span highlighted and in view. */
  async function openViewer(docId, start, end) {
    $("viewer-title").textContent = "原文";
    $("viewer-meta").textContent = "载入中…";
    viewerText.replaceChildren();
    if (!viewer.open) viewer.showModal();
    const r = await api("/documents/" + encodeURIComponent(docId) + "/text");
    if (!r.ok) {
      $("viewer-meta").textContent = errorText(r);
      return;
    }
    const { document: d, text } = r.body;
    $("viewer-title").textContent = d.title || d.source;
    $("viewer-meta").textContent = [d.source, d.date, d.passages + " 段", d.chars + " 字"]
      .filter(Boolean).join(" · ");
    const has = Number.isInteger(start) && Number.isInteger(end) && end > start && end <= text.length;
    if (!has) {
      viewerText.textContent = text;
      viewerText.scrollTop = 0;
      return;
    }
    viewerText.appendChild(document.createTextNode(text.slice(0, start)));
    const hit = el("mark", "viewer-hit", text.slice(start, end));
    hit.id = "viewer-hit";
    viewerText.appendChild(hit);
    viewerText.appendChild(document.createTextNode(text.slice(end)));
    hit.scrollIntoView({ block: "center" });
  }

  $("viewer-close").addEventListener("click", () => viewer.close());

  /** Ask for confirmation in the page's own dialog; resolves true for OK. */
  function confirmDialog(text, okLabel) {
    const dlg = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel || "确定";
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
      dlg.returnValue = "";
      dlg.showModal();
    });
  }

  return { $, el, headers, api, errorText, fmtNumber, fmtValue, yearOf, sortableTable, chart,
    toCSV, download, showView, onView, openViewer, confirmDialog };
})();
