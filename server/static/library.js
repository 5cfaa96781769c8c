// The document library: the indexed documents (sortable), uploads by drag-and-drop or file
// picker with a progress bar fed by GET /jobs/{id}, delete with confirmation, and the
// viewer (common.js) for a document's full text.
"use strict";

(() => {
  const { $, el, api, errorText, sortableTable, openViewer, confirmDialog } = window.RAG;
  const tableBox = $("library-table");
  const uploadsEl = $("uploads");
  const statusEl = $("library-status");
  const input = $("upload-input");
  const drop = $("dropzone");

  const STAGES = {
    queued: "排队中", parsing: "解析", chunking: "分段", encoding: "编码",
    writing: "写入索引", done: "完成", failed: "失败",
  };
  const POLL_MS = 400;
  let documents = [];
  let sort = null;  // the order the user chose, kept when the list is drawn again

  function setStatus(text) {
    statusEl.textContent = text || "";
  }

  async function refresh() {
    const r = await api("/documents");
    if (!r.ok) {
      setStatus(errorText(r));
      return [];
    }
    documents = r.body.documents;
    render();
    document.dispatchEvent(new CustomEvent("rag:documents", { detail: documents }));
    return documents;
  }

  function actions(d) {
    const span = el("span", "row-actions");
    const view = el("button", "secondary small", "查看");
    view.type = "button";
    view.setAttribute("aria-label", "查看 " + (d.title || d.source));
    view.addEventListener("click", () => openViewer(d.doc_id));
    const del = el("button", "secondary small danger", "删除");
    del.type = "button";
    del.setAttribute("aria-label", "删除 " + (d.title || d.source));
    del.addEventListener("click", () => remove(d, del));
    span.append(view, del);
    return span;
  }

  function render() {
    if (!documents.length) {
      tableBox.replaceChildren(el("p", "hint", "还没有文档。"));
      return;
    }
    const table = sortableTable({
      className: "library",
      caption: "已索引的文档",
      rows: documents,
      sort,
      onSort: (s) => { sort = s; },
      columns: [
        { label: "文件名", value: (d) => d.source, className: "doc-source" },
        { label: "标题", value: (d) => d.title, className: "doc-title" },
        { label: "日期", value: (d) => d.date, className: "nowrap" },
        { label: "段落", value: (d) => d.passages, className: "num" },
        { label: "数字", value: (d) => d.figures, className: "num" },
        { label: "操作", value: (d) => d.source, cell: actions, className: "nowrap", sortable: false },
      ],
    });
    // a keyboard user's focus stays on the same header when the list is drawn again
    const heads = [...tableBox.querySelectorAll("button.sort")];
    const focused = heads.indexOf(document.activeElement);
    tableBox.replaceChildren(table);
    if (focused >= 0) table.querySelectorAll("button.sort")[focused]?.focus();
  }

  async function remove(d, button) {
    const ok = await confirmDialog("删除《" + (d.title || d.source) + "》（" + d.source +
      "）？文件将从语料库和索引中移除。", "删除");
    if (!ok) {
      button.focus();
      return;
    }
    setStatus("正在删除 " + d.source + "…");
    const r = await api("/documents/" + encodeURIComponent(d.doc_id), { method: "DELETE" });
    setStatus(r.ok ? "已删除 " + d.source : errorText(r));
    await refresh();
    tableBox.querySelector("button.sort")?.focus();
  }

  // -- uploads ---------------------------------------------------------------------------

  /** One upload's line: name, progress bar, stage text. */
  function uploadItem(name) {
    const li = el("li", "upload");
    li.appendChild(el("span", "upload-name", name));
    const bar = el("progress", "upload-bar");
    bar.max = 1;
    bar.setAttribute("aria-label", name + " 上传进度");
    li.appendChild(bar);
    const stage = el("span", "upload-stage", "上传中…");
    li.appendChild(stage);
    uploadsEl.prepend(li);
    return { li, bar, stage };
  }

  function showJob(item, job) {
    item.li.dataset.state = job.state;
    item.li.dataset.jobId = job.job_id;
    let text = STAGES[job.stage] || job.stage;
    if (job.total) {
      item.bar.value = Math.min(1, job.done / job.total);
      text += " " + job.done + "/" + job.total;
    } else if (job.state === "done" || job.state === "failed") {
      item.bar.value = 1;
    } else {
      item.bar.removeAttribute("value");  // indeterminate until the stage has a count
    }
    if (job.state === "done" && job.document) {
      text = "完成：《" + job.document.title + "》，" + job.document.passages + " 段";
    }
    if (job.state === "failed") text = "失败：" + (job.error ? job.error.message : "未知错误");
    item.stage.textContent = text;
  }

  async function follow(item, job) {
    showJob(item, job);
    while (job.state === "queued" || job.state === "running") {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const r = await api("/jobs/" + encodeURIComponent(job.job_id));
      if (!r.ok) {
        item.stage.textContent = errorText(r);
        item.li.dataset.state = "failed";
        return;
      }
      job = r.body;
      showJob(item, job);
    }
    if (job.state === "done") await refresh();
  }

  async function upload(file) {
    const item = uploadItem(file.name);
    const form = new FormData();
    form.append("file", file, file.name);
    const r = await api("/documents", { method: "POST", body: form });
    if (r.status !== 202) {
      item.li.dataset.state = "failed";
      item.bar.value = 1;
      item.stage.textContent = "失败：" + errorText(r);
      return;
    }
    await follow(item, r.body);
  }

  function uploadAll(files) {
    for (const f of files) upload(f);
  }

  $("upload-pick").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    uploadAll([...input.files]);
    input.value = "";
  });
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll([...e.dataTransfer.files]);
  });

  /** Jobs still running from before a reload keep their progress bar. */
  async function resumeJobs() {
    const r = await api("/jobs?limit=20");
    if (!r.ok) return;
    const shown = new Set([...uploadsEl.children].map((li) => li.dataset.jobId));
    for (const job of r.body.jobs.slice().reverse()) {
      if ((job.state === "queued" || job.state === "running") && !shown.has(job.job_id)) {
        follow(uploadItem(job.filename), job);
      }
    }
  }

  let loaded = false;
  window.RAG.onView("library", () => {
    refresh();
    if (!loaded) resumeJobs();
    loaded = true;
  });
  window.RAG.refreshDocuments = refresh;
})();
