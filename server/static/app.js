// The chat view. Plain DOM APIs only: every piece of server text goes in as a text node
// (textContent / createTextNode), never as HTML, so passage text can never run as markup.
// Helpers shared with the library and the figures explorer are in common.js (window.RAG).
"use strict";

(() => {
  const { $, el, fmtValue, sortableTable } = window.RAG;
  const conversationEl = $("conversation");
  const form = $("ask-form");
  const input = $("question");
  const sendBtn = $("send");
  const statusEl = $("status");
  const passageEl = $("passage");
  const keyInput = $("api-key");
  const keyBox = $("key-box");

  const conv = window.RAG.conv;  // the stored conversations (conversations.js)
  let busy = false;
  let controller = null;  // aborts the request in flight (the stop button)
  let activeCite = null;

  keyInput.value = sessionStorage.getItem("rag-api-key") || "";
  keyInput.addEventListener("change", () => {
    sessionStorage.setItem("rag-api-key", keyInput.value.trim());
  });

  function headers() {
    return window.RAG.headers({ "Content-Type": "application/json", "Accept": "text/event-stream" });
  }

  function setStatus(text) {
    statusEl.textContent = text || "";
  }

  function scrollToEnd() {
    conversationEl.lastElementChild?.scrollIntoView({ block: "end", behavior: "smooth" });
  }

  // -- passages --------------------------------------------------------------------------

  /** Non-overlapping [start, end) ranges of the figures' texts inside `text`. */
  function figureRanges(text, figures) {
    const needles = [...new Set(figures.map((f) => f.text).filter((t) => t && t.length))];
    needles.sort((a, b) => b.length - a.length);
    const ranges = [];
    for (const needle of needles) {
      let from = 0;
      for (;;) {
        const at = text.indexOf(needle, from);
        if (at < 0) break;
        const end = at + needle.length;
        if (!ranges.some(([s, e]) => at < e && end > s)) ranges.push([at, end]);
        from = at + 1;
      }
    }
    return ranges.sort((a, b) => a[0] - b[0]);
  }

  /** Fill `target` with `text`, the figures wrapped in <mark> (built with DOM APIs). */
  function fillHighlighted(target, text, figures) {
    target.replaceChildren();
    let pos = 0;
    for (const [start, end] of figureRanges(text, figures)) {
      if (start > pos) target.appendChild(document.createTextNode(text.slice(pos, start)));
      target.appendChild(el("mark", "figure", text.slice(start, end)));
      pos = end;
    }
    if (pos < text.length) target.appendChild(document.createTextNode(text.slice(pos)));
  }

  function showPassage(answer, id, button) {
    const c = answer.citations.find((x) => x.id === id);
    if (!c) return;
    if (activeCite) activeCite.classList.remove("active");
    activeCite = button || null;
    if (activeCite) activeCite.classList.add("active");
    $("passage-label").textContent = "引用 [" + id + "]";
    $("passage-title").textContent = c.title || "";
    $("passage-source").textContent = [c.source, c.date].filter(Boolean).join(" · ");
    const path = (c.headings || []).filter((h) => h !== c.title);
    $("passage-headings").textContent = path.join(" › ");
    $("passage-headings").hidden = path.length < 2;  // one heading is the section line below
    $("passage-section").textContent = c.section || "";
    $("passage-section").hidden = !c.section;
    const own = answer.figures.filter((f) => f.citation === id);
    const others = answer.figures.filter((f) => f.citation !== id);
    fillHighlighted($("passage-text"), c.text, own.concat(others));
    $("passage-where").textContent = "字符 " + c.start + "–" + c.end;
    openCite = c;
    passageEl.hidden = false;
    passageEl.scrollIntoView({ block: "nearest" });
  }

  let openCite = null;
  $("passage-open").addEventListener("click", () => {
    if (openCite) window.RAG.openViewer(openCite.doc_id, openCite.start, openCite.end);
  });

  function closePassage() {
    passageEl.hidden = true;
    if (activeCite) activeCite.classList.remove("active");
    activeCite = null;
  }

  $("passage-close").addEventListener("click", closePassage);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !passageEl.hidden && !document.querySelector("dialog[open]")) closePassage();
  });

  // -- answers ---------------------------------------------------------------------------

  function citeButton(answer, id) {
    const b = el("button", "cite", "[" + id + "]");
    b.type = "button";
    b.dataset.citation = String(id);
    b.title = "查看引用 [" + id + "]";
    b.addEventListener("click", () => showPassage(answer, id, b));
    return b;
  }

  /** Answer text with every known [n] marker turned into a citation button. */
  function answerText(answer) {
    const p = el("p", "answer-text");
    const known = new Set(answer.citations.map((c) => c.id));
    const re = /\[(\d+)\]/g;
    const text = answer.answer || "";
    let pos = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      const id = Number(m[1]);
      if (!known.has(id)) continue;
      if (m.index > pos) p.appendChild(document.createTextNode(text.slice(pos, m.index)));
      p.appendChild(citeButton(answer, id));
      pos = m.index + m[0].length;
    }
    if (pos < text.length) p.appendChild(document.createTextNode(text.slice(pos)));
    return p;
  }

  function figuresTable(answer) {
    const wrap = el("div", "figures");
    wrap.appendChild(el("h3", null, "答案中的数字"));
    const table = el("table", "figures-table");
    const head = table.createTHead().insertRow();
    for (const h of ["数字", "数值", "单位", "主体", "日期", "出处"]) {
      head.appendChild(el("th", null, h));
    }
    const body = table.createTBody();
    for (const f of answer.figures) {
      const row = body.insertRow();
      row.appendChild(el("td", "fig-text", f.text));
      row.appendChild(el("td", "num", fmtValue(f)));
      row.appendChild(el("td", null, f.unit || "—"));
      row.appendChild(el("td", "subject", f.subject || "—"));
      row.appendChild(el("td", "nowrap", f.date || "—"));
      const cell = el("td", "cite-cell");
      cell.appendChild(citeButton(answer, f.citation));
      row.appendChild(cell);
    }
    wrap.appendChild(table);
    return wrap;
  }

  /** Each source: file name, title, date and heading path (never a hash). */
  function sourcesList(answer) {
    const ol = el("ol", "sources");
    for (const c of answer.citations) {
      const li = el("li");
      li.appendChild(citeButton(answer, c.id));
      const path = (c.headings || []).filter((h) => h !== c.title);
      if (!path.length && c.section) path.push(c.section);
      li.appendChild(el("span", "source-title", c.title || c.source));
      const where = [c.source, c.date, path.join(" › ")].filter(Boolean).join(" · ");
      li.appendChild(el("span", "source-where", where));
      ol.appendChild(li);
    }
    return ol;
  }

  // -- answer tables (list, comparison and trend answers carry `table`) -------------------

  /** A cell's shown text and its sort/plot value: plain values or {text, value}. */
  function cellParts(cell) {
    if (cell && typeof cell === "object") {
      const text = cell.text ?? cell.label ?? (cell.value ?? "");
      if (cell.value === null) return { text: String(text), value: null };  // a gap
      return { text: String(text), value: typeof cell.value === "number" ? cell.value : text };
    }
    return { text: cell === null || cell === undefined ? "" : String(cell), value: cell };
  }

  /** answer.table → {columns: [{key, label}], rows: [{cells: [...], citation}]}. The
   * answerer's rows are {label, figure, citation, quote} under the columns (year or item,
   * figure, source); other shapes (arrays, objects keyed by column) are read too. */
  function normaliseTable(t) {
    const columns = (t.columns || []).map((c, i) => (typeof c === "string"
      ? { key: c, label: c } : { key: c.key ?? c.name ?? String(i), label: c.label ?? c.title ?? c.key ?? c.name ?? "" }));
    const rows = (t.rows || []).map((r) => {
      if (Array.isArray(r)) return { cells: r, citation: null };
      if (r && "label" in r && "figure" in r) {
        const f = r.figure;
        return { cells: [r.label, f ? { text: f.text, value: f.value } : { text: "未找到", value: null }, r.quote ?? ""]
          .slice(0, Math.max(columns.length, 2)), citation: r.citation ?? (f ? f.citation : null) };
      }
      const cells = Array.isArray(r.cells) ? r.cells : Array.isArray(r.values) ? r.values
        : columns.map((c) => r[c.key]);
      const citation = r.citation ?? (Array.isArray(r.citations) ? r.citations[0] : null);
      return { cells, citation: typeof citation === "object" && citation ? citation.id : citation };
    });
    return { columns, rows };
  }

  function answerTable(answer) {
    const t = normaliseTable(answer.table);
    if (!t.columns.length || !t.rows.length) return null;
    const wrap = el("div", "answer-table figures");
    wrap.appendChild(el("h3", null, answer.table.title || "表格"));
    // a numeric column: numbers, or gaps where nothing was found (at least one number)
    const numeric = (i) => t.rows.every((r) => {
      const v = cellParts(r.cells[i]).value;
      return v === null || typeof v === "number";
    }) && t.rows.some((r) => typeof cellParts(r.cells[i]).value === "number");
    const columns = t.columns.map((c, i) => ({
      label: c.label,
      value: (r) => cellParts(r.cells[i]).value,
      cell: (r) => cellParts(r.cells[i]).text,
      className: numeric(i) ? "num" : "",
    }));
    if (t.rows.some((r) => r.citation !== null && r.citation !== undefined)) {
      columns.push({
        label: "出处",
        value: (r) => r.citation,
        cell: (r) => (r.citation === null || r.citation === undefined ? "" : citeButton(answer, r.citation)),
        className: "cite-cell",
      });
    }
    wrap.appendChild(sortableTable({ columns, rows: t.rows, className: "figures-table", caption: answer.table.title }));
    // the chart: the first numeric column against the first column
    const num = t.columns.findIndex((_, i) => i > 0 && numeric(i));
    if (num > 0) {
      const labels = t.rows.map((r) => cellParts(r.cells[0]).text);
      const years = labels.map((l) => window.RAG.yearOf(l));
      const trend = years.every((y) => y !== null) && t.rows.length > 1;  // 2008年, 2009年 …
      const box = el("div", "chart-box answer-chart");
      wrap.appendChild(box);
      const order = t.rows.map((_, i) => i);
      if (trend) order.sort((a, b) => years[a] - years[b]);
      requestAnimationFrame(() => window.RAG.chart(box, {
        kind: trend ? "line" : "bar",
        xs: trend ? order.map((i) => years[i]) : undefined,
        labels: order.map((i) => labels[i]),
        values: order.map((i) => cellParts(t.rows[i].cells[num]).value),
        label: t.columns[num].label,
        title: t.columns[num].label,
      }));
    }
    return wrap;
  }

  function renderAnswer(bubble, answer) {
    bubble.replaceChildren();
    bubble.classList.remove("streaming");
    bubble.classList.toggle("not-found", !answer.found);
    if (answer.rewritten_question) {
      const r = el("p", "rewritten");
      r.appendChild(el("span", "label", "理解为："));
      r.appendChild(el("span", "rewritten-text", answer.rewritten_question));
      bubble.appendChild(r);
    }
    bubble.appendChild(answerText(answer));
    const table = answer.table ? answerTable(answer) : null;
    if (table) bubble.appendChild(table);
    if (answer.figures.length) bubble.appendChild(figuresTable(answer));
    if (answer.citations.length) {
      const d = el("details", "sources-box");
      d.appendChild(el("summary", null, "引用来源（" + answer.citations.length + "）"));
      d.appendChild(sourcesList(answer));
      bubble.appendChild(d);
    }
    bubble.appendChild(copyButton(answer));
  }

  /** The answer as plain text with its numbered sources. */
  function plainAnswer(answer) {
    const lines = [answer.answer];
    if (answer.citations.length) lines.push("", "来源：");
    for (const c of answer.citations) {
      lines.push("[" + c.id + "] 《" + c.title + "》 " + [c.source, c.date].filter(Boolean).join(" · "));
    }
    return lines.join("\n");
  }

  function copyButton(answer) {
    const b = el("button", "secondary small copy", "复制答案");
    b.type = "button";
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(plainAnswer(answer));
        b.textContent = "已复制";
      } catch (_) {
        b.textContent = "无法复制";
      }
      setTimeout(() => { b.textContent = "复制答案"; }, 1500);
    });
    return b;
  }

  /** A question and its answer bubble (streaming until an answer is rendered in it). */
  function addTurn(question) {
    $("empty-hint")?.remove();
    const userLi = el("li", "turn user");
    userLi.appendChild(el("div", "bubble", question));
    conversationEl.appendChild(userLi);
    const botLi = el("li", "turn assistant");
    const bubble = el("div", "bubble streaming");
    bubble.appendChild(el("p", "answer-text"));
    botLi.appendChild(bubble);
    conversationEl.appendChild(botLi);
    return bubble;
  }

  /** Show a stored conversation (or an empty page for none). */
  function showConversation(c) {
    conversationEl.replaceChildren();
    closePassage();
    for (const t of c ? c.turns : []) renderAnswer(addTurn(t.question), t.answer);
  }

  function renderError(bubble, message) {
    bubble.replaceChildren(el("p", "error-text", message));
    bubble.classList.remove("streaming");
    bubble.classList.add("error");
  }

  // -- the request -----------------------------------------------------------------------

  /** Parse a text/event-stream body; calls onEvent(name, data) for each event. */
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "event") name = val;
          else if (field === "data") data.push(val);
        }
        if (data.length) onEvent(name, data.join("\n"));
      }
    }
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    return "请求失败（HTTP " + response.status + "）";
  }

  function setBusy(on) {
    busy = on;
    sendBtn.textContent = on ? "停止" : "发送";
    sendBtn.classList.toggle("stop", on);
    sendBtn.setAttribute("aria-label", on ? "停止回答" : "发送问题");
  }

  async function ask(question) {
    if (busy) return;
    setBusy(true);
    const bubble = addTurn(question);
    const live = bubble.querySelector(".answer-text");
    scrollToEnd();
    setStatus("正在检索和组织答案…");
    const sent = conv.messages().concat([{ role: "user", content: question }]);
    controller = new AbortController();
    try {
      const response = await fetch("/chat", {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ messages: sent, stream: true }),
        signal: controller.signal,
      });
      if (!response.ok) {
        if (response.status === 401) keyBox.open = true;
        renderError(bubble, await errorMessage(response));
        return;
      }
      let final = null;
      await readEvents(response, (name, data) => {
        if (name === "delta") live.appendChild(document.createTextNode(JSON.parse(data).text));
        else if (name === "done") final = JSON.parse(data);
      });
      if (!final) {
        renderError(bubble, "回答中断，请重试");
        return;
      }
      renderAnswer(bubble, final);
      conv.record(question, final);
    } catch (err) {
      if (err && err.name === "AbortError") renderError(bubble, "已停止");
      else renderError(bubble, "网络错误：" + (err && err.message ? err.message : err));
    } finally {
      controller = null;
      setBusy(false);
      setStatus("");
      scrollToEnd();
      input.focus();
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (busy) {  // the send button is the stop button while an answer is coming
      controller?.abort();
      return;
    }
    const q = input.value.trim();
    if (!q) return;
    input.value = "";
    ask(q);
  });

  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  for (const b of document.querySelectorAll(".example")) {
    b.addEventListener("click", () => ask(b.textContent));
  }

  $("new-chat").addEventListener("click", () => {
    conv.start();
    showConversation(null);
    window.RAG.showView("chat");
    input.focus();
  });

  conv.onSwitch(showConversation);
  if (conv.current()) showConversation(conv.current());  // the conversation before a reload

  window.RAG.onView("chat", () => {});
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => window.RAG.showView(tab.dataset.view));
  }
  // after every deferred script has registered its view (library.js, figures.js)
  document.addEventListener("DOMContentLoaded", () => {
    const first = location.hash.slice(1);
    if (first && first !== "chat" && document.querySelector(".tab[data-view='" + first + "']")) {
      window.RAG.showView(first);
    }
  });
})();
