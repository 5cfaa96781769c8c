// The figures explorer over GET /figures: filter by metric, subject, period, stance, kind and
// document; sort (server side, and by any column in the table); a chart of the values by
// period (or by row when no period); CSV export of the rows shown. The allowed stances,
// kinds and sort keys come from the server's own OpenAPI schema, never a copy here.
"use strict";

(() => {
  const { $, el, api, errorText, fmtValue, yearOf, sortableTable, chart, toCSV, download } = window.RAG;
  const form = $("fig-filters");
  const statusEl = $("fig-status");
  const tableBox = $("fig-table");
  const chartBox = $("fig-chart");
  const LABELS = {
    target: "目标", actual: "实际", cap: "上限", threshold: "门槛", base: "基数", unknown: "未定",
    money: "金额", count: "数量", percent: "百分比", ratio: "比率", number: "数", duration: "时长",
    level: "级别", date: "日期", anniversary: "周年", document: "文档顺序", value: "数值",
    period: "时期",
  };
  const LIMIT = 1000;
  let rows = [];
  let ready = null;

  function options(select, values) {
    for (const v of values) {
      const o = el("option", null, LABELS[v] ? LABELS[v] + "（" + v + "）" : v);
      o.value = v;
      select.appendChild(o);
    }
  }

  /** Fill the enumerated selects from /openapi.json (once). */
  async function setUp() {
    const r = await api("/openapi.json");
    if (!r.ok) return;
    const params = r.body.paths["/figures"].get.parameters;
    for (const p of params) {
      const enumValues = p.schema.enum;
      const select = form.elements[p.name];
      if (enumValues && select && select.tagName === "SELECT") options(select, enumValues);
    }
    fillDocuments(window.RAG.documents || []);
  }

  function fillDocuments(docs) {
    const select = form.elements.doc;
    const current = select.value;
    select.replaceChildren(Object.assign(el("option", null, "全部"), { value: "" }));
    for (const d of docs) {
      const o = el("option", null, (d.title || d.source) + (d.date ? "（" + d.date + "）" : ""));
      o.value = d.doc_id;
      select.appendChild(o);
    }
    select.value = current;
  }

  document.addEventListener("rag:documents", (e) => {
    window.RAG.documents = e.detail;
    fillDocuments(e.detail);
  });

  function period(f) {
    if (!f.period_start && !f.period_end) return "";
    if (f.period_start === f.period_end || !f.period_end) return f.period_start;
    return f.period_start + "–" + f.period_end;
  }

  function query() {
    const params = new URLSearchParams();
    for (const name of ["metric", "subject", "year", "year_to", "stance", "kind", "doc", "sort"]) {
      const v = String(form.elements[name].value || "").trim();
      if (v) params.set(name, v);
    }
    if (form.elements.desc.checked) params.set("desc", "true");
    params.set("limit", String(LIMIT));
    return params;
  }

  const COLUMNS = [
    { label: "数字", value: (f) => f.text, className: "fig-text" },
    { label: "数值", value: (f) => f.value, cell: (f) => fmtValue(f), className: "num" },
    { label: "单位", value: (f) => f.unit },
    { label: "指标", value: (f) => f.metric, className: "subject" },
    { label: "主体", value: (f) => f.subject },
    { label: "时期", value: (f) => f.period_end || f.period_start, cell: period, className: "nowrap" },
    { label: "立场", value: (f) => f.stance, cell: (f) => LABELS[f.stance] || f.stance, className: "nowrap" },
    { label: "类型", value: (f) => f.kind, cell: (f) => LABELS[f.kind] || f.kind, className: "nowrap" },
    { label: "文档", value: (f) => f.title, cell: (f) => [f.title, f.doc_date].filter(Boolean).join(" · "), className: "doc-title" },
    { label: "章节", value: (f) => f.section },
  ];

  /** The chart: values of the most common unit, by year (the mean of each year's values)
   * when every such row has a period, else one bar per row (the first 40). */
  function drawChart() {
    const numeric = rows.filter((f) => typeof f.value === "number");
    if (!numeric.length) {
      chartBox.replaceChildren();
      chartBox.removeAttribute("role");
      return;
    }
    const counts = new Map();
    for (const f of numeric) counts.set(f.unit, (counts.get(f.unit) || 0) + 1);
    const unit = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const same = numeric.filter((f) => f.unit === unit);
    const name = String(form.elements.metric.value || form.elements.subject.value || "数值").trim();
    const byYear = same.length > 1 && same.every((f) => yearOf(f.period_end || f.period_start) !== null);
    const title = name + (unit ? "（" + unit + "）" : "") + (byYear ? " · 各年均值" : "") +
      (same.length < numeric.length ? " · 仅单位为“" + (unit || "无") + "”的 " + same.length + " 个" : "");
    if (byYear) {
      const years = new Map();
      for (const f of same) {
        const y = yearOf(f.period_end || f.period_start);
        if (!years.has(y)) years.set(y, []);
        years.get(y).push(f.value);
      }
      const xs = [...years.keys()].sort((a, b) => a - b);
      chart(chartBox, { kind: "line", xs, values: xs.map((y) => {
        const v = years.get(y);
        return v.reduce((a, b) => a + b, 0) / v.length;
      }), label: title, title });
      return;
    }
    const shown = same.slice(0, 40);
    chart(chartBox, { kind: "bar", labels: shown.map((f) => f.subject || f.text),
      values: shown.map((f) => f.value), label: title, title });
  }

  async function load() {
    if (ready) await ready;
    statusEl.textContent = "查询中…";
    const r = await api("/figures?" + query().toString());
    if (!r.ok) {
      statusEl.textContent = errorText(r);
      rows = [];
      tableBox.replaceChildren();
      chartBox.replaceChildren();
      return;
    }
    rows = r.body.figures;
    statusEl.textContent = "共 " + r.body.total + " 个数字" +
      (r.body.total > rows.length ? "，显示前 " + rows.length + " 个" : "");
    tableBox.replaceChildren(rows.length
      ? sortableTable({ columns: COLUMNS, rows, className: "figures-table explorer", caption: "数字" })
      : el("p", "hint", "没有符合条件的数字。"));
    drawChart();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });

  $("fig-csv").addEventListener("click", () => {
    const header = ["text", "value", "low", "high", "unit", "kind", "metric", "subject",
      "period_start", "period_end", "stance", "source", "title", "doc_date", "section"];
    download("figures.csv", toCSV(header, rows.map((f) => header.map((h) => f[h]))));
  });

  let shown = false;
  window.RAG.onView("explorer", () => {
    if (!ready) {
      ready = setUp();
      window.RAG.refreshDocuments?.();
    }
    if (!shown) load();
    shown = true;
  });
})();
