"""Rendering an `EvalReport`: a markdown table for the terminal and docs/evaluation.md, and a bar chart."""

from __future__ import annotations

from pathlib import Path

from lemo.evaluation.runner import EvalReport

PUBLISHED_NDCG = {"BiVAE": 0.475, "BPR": 0.442, "LightGCN": 0.420, "NCF": 0.396, "SAR": 0.382}


BEYOND_COLUMNS = ["coverage", "novelty", "diversity", "popularity_lift"]


def metrics_table(report: EvalReport) -> str:
    """One row per channel and pipeline; `served` is the pipeline the ranker guard lets serve (see guard_table).
    novelty is in bits, diversity is by category (blank without categories), popularity_lift 1 = as popular
    as what users went on to consume."""
    k = report.k
    columns = [f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hr@{k}", *BEYOND_COLUMNS]
    lines = [
        "| model | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, metrics in report.rows.items():
        label = f"**served** ({report.served})" if name == "served" else name
        cells = [f"{metrics[c]:.4f}" if c in metrics else "" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def guard_table(report: EvalReport) -> str:
    """The ranker guard on the validation split: each ranker's pipeline against the best channel alone."""
    k = report.k
    channels = ", ".join(f"{c} {report.validation[c]:.4f}" for c in report.validation if not c.startswith("pipe"))
    lines = [
        f"Validation NDCG@{k} of the channels alone: {channels}.",
        "",
        f"| ranker | pipeline validation ndcg@{k} | serves | why |",
        "|---|---:|---|---|",
    ]
    for kind, decision in report.guard.items():
        serves = "the ranker" if decision.serve_ranker else f"{decision.channel}'s order"
        valid = report.validation[f"pipeline ({kind})"]
        lines.append(f"| {kind} | {valid:.4f} | {serves} | {decision.reason} |")
    return "\n".join(lines)


def ranker_table(report: EvalReport) -> str:
    lines = ["| ranker | AUC | log loss |", "|---|---:|---:|"]
    lines += [f"| {name} | {m['auc']:.4f} | {m['logloss']:.4f} |" for name, m in report.rankers.items()]
    return "\n".join(lines)


def timings_table(report: EvalReport) -> str:
    lines = ["| step | seconds |", "|---|---:|"]
    lines += [f"| {step} | {seconds:.2f} |" for step, seconds in report.timings.items()]
    lines.append(f"| **total** | **{sum(report.timings.values()):.2f}** |")
    return "\n".join(lines)


def render_text(report: EvalReport) -> str:
    stats = ", ".join(f"{v:,} {name}" for name, v in report.data_stats.items())
    head = f"{report.dataset} ({report.split} split): {stats}; top {report.k}, seed {report.seed}"
    parts = [head, "", metrics_table(report)]
    if report.rankers:
        parts += ["", ranker_table(report), "", guard_table(report)]
    parts += ["", timings_table(report)]
    return "\n".join(parts)


def write_chart(report: EvalReport, path: Path) -> None:
    """Grouped bars (NDCG, precision, recall, HR at k) per channel and pipeline, with the best published NDCG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    k = report.k
    metrics = [f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hr@{k}"]
    names = [r for r in report.rows if r != "served"]
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(names)), 4.5))
    for n, metric in enumerate(metrics):
        ax.bar(x + (n - 1.5) * width, [report.rows[r][metric] for r in names], width, label=metric)
    ax.axhline(PUBLISHED_NDCG["BiVAE"], color="grey", linestyle="--", linewidth=1, label="BiVAE ndcg@10 (published)")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_title(f"{report.dataset}: per-user {report.split} 75/25 split, full ranking, top {k}")
    ax.legend(fontsize=8, ncol=5, loc="upper center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
