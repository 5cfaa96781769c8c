"""Evaluation output: markdown tables, the list of wrong answers, ``eval.json`` and the
``eval.png`` chart."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.evaluate import EvalReport
from rag.metrics import RANK_DEPTH
from rag.qasets import DEFAULT_KS


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def format_tables(report: EvalReport) -> str:
    """Markdown tables: retrieval by set and mode, then answer metrics."""
    ks = report.options.get("ks") or DEFAULT_KS
    cols = [f"recall@{k}" for k in ks] + [f"mrr@{RANK_DEPTH}", f"ndcg@{RANK_DEPTH}"]
    lines = ["| set | mode | questions | passages | " + " | ".join(cols) + " |",
             "|---|---|---:|---:|" + "---:|" * len(cols)]
    for s in report.sets:
        scored = sum(1 for d in s.details if d.get("rank") is not None) if s.kind == "project" \
            else s.questions
        for mode, m in s.retrieval.items():
            lines.append(f"| {s.name} | {mode} | {scored} | {s.passages} | "
                         + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
    out = ["\n".join(lines)]
    halves = [s for s in report.sets if len(s.retrieval_halves) > 1]
    if halves:  # a set not already split into halves by name, half by half
        rows = ["| set | half | mode | questions | " + " | ".join(cols) + " |",
                "|---|---|---|---:|" + "---:|" * len(cols)]
        for s in halves:
            for half, per_mode in s.retrieval_halves.items():
                for mode, m in per_mode.items():
                    rows.append(f"| {s.name} | {half} | {mode} | {int(m['questions'])} | "
                                + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
        out.append("\n".join(rows))
    proj = [s for s in report.sets if s.kind == "project" and s.answers]
    if proj:
        rows = ["| set | answerable | answer acc | figure acc (n) | text acc (n) | refusal acc (n) "
                "| false refusals | wrong-answer rate | coverage | gold cited |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in proj:
            a = s.answers
            rows.append(
                f"| {s.name} | {a['answerable']} | {_fmt(a['answer_accuracy'])} | "
                f"{_fmt(a['figure_accuracy'])} ({a['figure_questions']}) | "
                f"{_fmt(a['text_accuracy'])} ({a['text_questions']}) | "
                f"{_fmt(a['refusal_accuracy'])} ({a['unanswerable']}) | {a['false_refusals']} | "
                f"{_fmt(a['wrong_answer_rate'])} | {_fmt(a['coverage'])} | {_fmt(a['cited_gold'])} |")
        out.append("\n".join(rows))
        for s in proj:
            bt = s.answers["by_type"]
            out.append("| type | n | correct |\n|---|---:|---:|\n" + "\n".join(
                f"| {t} | {v['n']} | {v['correct']} |" for t, v in sorted(bt.items())))
    ext = [s for s in report.sets if s.kind == "external" and s.answers]
    if ext:
        rows = ["| set | questions | span hit | found | numeric half | numeric (n) | strict acc "
                "| wrong-answer rate | coverage |",
                "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
        for s in ext:
            a = s.answers
            for split in ("fit", "test"):
                m = a.get(f"numeric_{split}") or {}
                rows.append(f"| {s.name} | {a['questions']} | {_fmt(a['span_hit'])} | "
                            f"{_fmt(a['found'])} | {split} | {m.get('questions', 0)} | "
                            f"{_fmt(m.get('accuracy'))} | {_fmt(m.get('wrong_answer_rate'))} | "
                            f"{_fmt(m.get('coverage'))} |")
        out.append("\n".join(rows))
    return "\n\n".join(out)


def failing(report: EvalReport) -> list[dict[str, Any]]:
    """Project-set questions answered wrongly, with what came back."""
    out = []
    for s in report.sets:
        if s.kind != "project":
            continue
        for d in s.details:
            if "correct" in d and not d["correct"]:
                out.append({"set": s.name, **{k: d.get(k) for k in (
                    "id", "type", "question", "rewritten", "found", "answer", "first_figure")}})
    return out


def write_outputs(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """``eval.json`` (everything, per question too) and ``eval.png`` (modes compared)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / "eval.json"
    tmp = jpath.with_name(jpath.name + ".part")
    tmp.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, jpath)
    ppath = out_dir / "eval.png"
    plot(report, ppath)
    return jpath, ppath


def plot(report: EvalReport, path: Path) -> None:
    """One panel per set: retrieval metrics as bars, one colour per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [s for s in report.sets if s.retrieval]
    curves = _curves(report)
    n = max(len(sets), 1) + (1 if curves else 0)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    if curves:
        _plot_risk(axes[0][-1], curves)
    for ax, s in zip(axes[0], sets, strict=False):
        modes = list(s.retrieval)
        cols = [c for c in next(iter(s.retrieval.values())) if c != "ms_per_query"]
        x = np.arange(len(cols))
        w = 0.8 / max(len(modes), 1)
        for j, mode in enumerate(modes):
            ax.bar(x + (j - (len(modes) - 1) / 2) * w, [s.retrieval[mode][c] for c in cols], w,
                   label=mode)
        ax.set_xticks(x, [c.replace("recall", "R") for c in cols], rotation=30)
        low = min((s.retrieval[m][c] for m in modes for c in cols), default=0.0)
        floor = max(0.0, math.floor((low - 0.05) * 10) / 10)  # zoom in: scores are close
        ax.set_ylim(floor, 1.0 + (1.0 - floor) * 0.04)
        if floor > 0:
            ax.set_ylabel(f"(axis starts at {floor:.1f})", fontsize=8)
        title = f"{s.name} ({s.questions} q, {s.passages} passages)"
        if s.kind == "project" and s.answers:
            a = s.answers
            title += f"\nfigure acc {_fmt(a['figure_accuracy'])}, refusal acc " \
                     f"{_fmt(a['refusal_accuracy'])}"
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".part.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _curves(report: EvalReport) -> list[tuple[str, list[dict[str, Any]], float]]:
    """(label, risk-coverage points, default threshold) of every set that has them."""
    out = []
    for s in report.sets:
        a = s.answers or {}
        if a.get("risk_coverage"):
            out.append((s.name, a["risk_coverage"], a["threshold"]))
        for split in ("fit", "test"):
            m = a.get(f"numeric_{split}") or {}
            if m.get("questions"):
                out.append((f"{s.name} numeric {split}", m["risk_coverage"], a["threshold"]))
    return out


def _plot_risk(ax: Any, curves: list[tuple[str, list[dict[str, Any]], float]]) -> None:
    """Wrong-answer rate against coverage as the refusal threshold moves; a dot marks each
    set's default threshold."""
    for label, points, threshold in curves:
        xs = [p["coverage"] for p in points]
        ys = [p["wrong_answer_rate"] for p in points]
        line = ax.plot(xs, ys, marker=".", label=label)[0]
        at = min(points, key=lambda p: abs(p["threshold"] - threshold))
        ax.plot([at["coverage"]], [at["wrong_answer_rate"]], "o", color=line.get_color(),
                markersize=8)
    ax.axhline(0.02, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("coverage (share answered)")
    ax.set_ylabel("wrong-answer rate (of all questions)")
    ax.set_title("risk–coverage (dot: default threshold; dashed: 2%)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
