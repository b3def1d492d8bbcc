"""Rendering an `EvalReport`: a markdown table for the terminal and docs/evaluation.md, and a bar chart."""

from __future__ import annotations

from pathlib import Path

from lemo.evaluation.runner import EvalReport

PUBLISHED_NDCG = {"BiVAE": 0.475, "BPR": 0.442, "LightGCN": 0.420, "NCF": 0.396, "SAR": 0.382}


def metrics_table(report: EvalReport) -> str:
    k = report.k
    columns = [f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"hr@{k}", "coverage"]
    lines = [
        "| model | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, metrics in report.rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics[c]:.4f}" for c in columns) + " |")
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
    parts = [f"{report.dataset}: {stats}; top {report.k}, seed {report.seed}", "", metrics_table(report)]
    if report.rankers:
        parts += ["", ranker_table(report)]
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
    names = list(report.rows)
    x = np.arange(len(names))
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(names)), 4.5))
    for n, metric in enumerate(metrics):
        ax.bar(x + (n - 1.5) * width, [report.rows[r][metric] for r in names], width, label=metric)
    ax.axhline(PUBLISHED_NDCG["BiVAE"], color="grey", linestyle="--", linewidth=1, label="BiVAE ndcg@10 (published)")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_title(f"{report.dataset}: per-user random 75/25 split, full ranking, top {k}")
    ax.legend(fontsize=8, ncol=5, loc="upper center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
