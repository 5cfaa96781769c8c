// Conversations kept in this browser's local storage: each is a title and its turns (the
// question and the full answer JSON, citations included), so a reload shows them again; they
// can be switched, renamed, deleted and exported as Markdown with their sources.
"use strict";

window.RAG.conv = (() => {
  const { $, el, download, confirmDialog } = window.RAG;
  const KEY = "rag-conversations";
  const ACTIVE = "rag-conversation-active";
  const MAX = 50;  // conversations kept; the oldest go first
  const select = $("conv-select");
  let all = load();
  let current = all.find((c) => c.id === localStorage.getItem(ACTIVE)) || null;
  let onSwitch = () => {};

  function load() {
    try {
      const v = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(v) ? v.filter((c) => c && c.id && Array.isArray(c.turns)) : [];
    } catch (_) {
      return [];
    }
  }

  function save() {
    all = all.slice(-MAX);
    try {
      localStorage.setItem(KEY, JSON.stringify(all));
      if (current) localStorage.setItem(ACTIVE, current.id);
      else localStorage.removeItem(ACTIVE);
    } catch (_) { /* storage full or disabled: the conversation still works, unsaved */ }
    fill();
  }

  function fill() {
    select.replaceChildren();
    const fresh = el("option", null, "（新对话）");
    fresh.value = "";
    select.appendChild(fresh);
    for (const c of all.slice().reverse()) {
      const o = el("option", null, c.title + "（" + c.turns.length + "）");
      o.value = c.id;
      select.appendChild(o);
    }
    select.value = current ? current.id : "";
    for (const id of ["conv-rename", "conv-export", "conv-delete"]) $(id).disabled = !current;
  }

  /** Record a finished turn in the current conversation (a new one on the first turn). */
  function record(question, answer) {
    if (!current) {
      current = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 8),
        title: question.slice(0, 40), created: new Date().toISOString(), turns: [] };
      all.push(current);
    }
    current.turns.push({ question, answer });
    save();
  }

  /** The conversation as the API's messages (user and assistant turns, oldest first). */
  function messages() {
    const out = [];
    for (const t of current ? current.turns : []) {
      out.push({ role: "user", content: t.question }, { role: "assistant", content: t.answer.answer });
    }
    return out;
  }

  function start() {
    current = null;
    save();
  }

  function markdown(c) {
    const lines = ["# " + c.title, "", "导出于 " + new Date().toLocaleString("zh-CN"), ""];
    for (const t of c.turns) {
      lines.push("## 问：" + t.question, "");
      if (t.answer.rewritten_question) lines.push("（理解为：" + t.answer.rewritten_question + "）", "");
      lines.push(t.answer.answer, "");
      if (t.answer.citations.length) {
        lines.push("来源：", "");
        for (const s of t.answer.citations) {
          const where = [s.source, s.date, (s.headings || []).join(" › ")].filter(Boolean).join(" · ");
          lines.push("[" + s.id + "] 《" + s.title + "》 " + where + "（字符 " + s.start + "–" + s.end + "）",
            "> " + s.text.replace(/\n+/g, " "), "");
        }
      }
    }
    return lines.join("\n") + "\n";
  }

  select.addEventListener("change", () => {
    current = all.find((c) => c.id === select.value) || null;
    save();
    onSwitch(current);
  });

  $("conv-export").addEventListener("click", () => {
    if (current) download((current.title || "对话").replace(/[\\/:*?"<>|]+/g, "_") + ".md", markdown(current), "text/markdown;charset=utf-8");
  });

  $("conv-delete").addEventListener("click", async () => {
    if (!current) return;
    if (!(await confirmDialog("删除对话“" + current.title + "”？", "删除"))) return;
    all = all.filter((c) => c !== current);
    current = null;
    save();
    onSwitch(null);
  });

  $("conv-rename").addEventListener("click", () => {
    if (!current) return;
    const dlg = $("rename");
    const field = $("rename-input");
    field.value = current.title;
    dlg.returnValue = "";
    dlg.addEventListener("close", () => {
      const title = field.value.trim();
      if (dlg.returnValue === "ok" && title && current) {
        current.title = title.slice(0, 80);
        save();
      }
    }, { once: true });
    dlg.showModal();
    field.select();
  });

  fill();
  return {
    record, messages, start, markdown,
    current: () => current,
    onSwitch: (fn) => { onSwitch = fn; },
  };
})();
