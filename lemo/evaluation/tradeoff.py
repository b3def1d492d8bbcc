"""The coverage vs accuracy trade-off of rerank settings (`lemo eval --tradeoff`), over the served channel's top
candidates, each list measured like any other (NDCG, catalog coverage, novelty, diversity):
- the product's MMR rule (lemo.rerank.mmr, diversity by category) at a sweep of lambda (1 = relevance only);
- a popularity discount: relevance (min-max over the user's candidates) minus beta x the item's train popularity
  (log, over the catalog's largest). Not a rule of the rerank chain yet; it shows what moving lists off the head
  of the catalog costs, which is what coverage measures.

The sweep is descriptive, not a tuning run: nothing is chosen from it, so it is measured on the test split of
the documented protocol, beside the rows it would change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lemo.evaluation.protocol import holdout_users, list_metrics, recall_lists
from lemo.models.base import RecallModel
from lemo.models.data import TrainingData
from lemo.rerank.config import MMRRuleConfig
from lemo.rerank.mmr import MMRRule
from lemo.rerank.types import Candidate, RerankContext

LAMBDAS: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
BETAS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
POOL = 50  # candidates per user the rule reorders (the served channel's top)


@dataclass(frozen=True)
class TradeoffPoint:
    setting: str  # "mmr" or "popularity"
    value: float  # lambda or beta
    metrics: dict[str, float]


def mmr_tradeoff(
    channel: RecallModel,
    train: TrainingData,
    test: TrainingData,
    k: int = 10,
    lambdas: Sequence[float] = LAMBDAS,
) -> list[TradeoffPoint]:
    """Per lambda: the metrics of the top k after MMR over each user's `POOL` best candidates of `channel`."""
    users = holdout_users(test)
    pools = recall_lists(channel, train, users, POOL, train.histories())
    categories = {i: m.categories for i, m in train.items.items()}
    points = []
    for lambda_ in lambdas:
        rule = MMRRule(MMRRuleConfig(lambda_=lambda_))
        lists = []
        for pool in pools:
            candidates = [Candidate(item, score, categories=categories.get(item, ())) for item, score in pool]
            ranked = rule.apply(candidates, RerankContext(now=0.0, count=k))
            lists.append([c.item_id for c in ranked[:k]])
        points.append(TradeoffPoint("mmr", lambda_, list_metrics(lists, train, test, k)))
    return points


def popularity_tradeoff(
    channel: RecallModel,
    train: TrainingData,
    test: TrainingData,
    k: int = 10,
    betas: Sequence[float] = BETAS,
) -> list[TradeoffPoint]:
    """Per beta: the metrics of the top k by normalised relevance - beta x log-popularity over `POOL` candidates."""
    users = holdout_users(test)
    pools = recall_lists(channel, train, users, POOL, train.histories())
    counts = np.log1p(train.item_popularity())
    popularity = dict(zip(train.item_ids, (counts / max(float(counts.max()), 1.0)).tolist(), strict=True))
    points = []
    for beta in betas:
        lists = []
        for pool in pools:
            scores = np.asarray([s for _, s in pool], dtype=np.float64)
            span = float(scores.max() - scores.min()) if len(scores) else 0.0
            relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
            adjusted = relevance - beta * np.asarray([popularity.get(i, 0.0) for i, _ in pool])
            lists.append([pool[n][0] for n in np.argsort(-adjusted, kind="stable")[:k]])
        points.append(TradeoffPoint("popularity", beta, list_metrics(lists, train, test, k)))
    return points


NAMES = {"mmr": "MMR lambda", "popularity": "popularity discount beta"}


def tradeoff_table(points: Sequence[TradeoffPoint], k: int = 10) -> str:
    """One row per setting; NDCG and coverage changes are relative to the channel's own order."""
    base = next(p.metrics for p in points if p.value == (1.0 if p.setting == "mmr" else 0.0))
    lines = [
        f"| setting | ndcg@{k} | ndcg change | coverage | coverage change | novelty | diversity |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        m = p.metrics
        lines.append(
            f"| {NAMES[p.setting]} {p.value:g} | {m[f'ndcg@{k}']:.4f} | {m[f'ndcg@{k}'] / base[f'ndcg@{k}'] - 1:+.1%} "
            f"| {m['coverage']:.4f} | {m['coverage'] / base['coverage'] - 1:+.0%} | {m['novelty']:.3f} "
            f"| {m['diversity']:.4f} |"
        )
    return "\n".join(lines)


def write_tradeoff_chart(points: Sequence[TradeoffPoint], path: Path, title: str, k: int = 10) -> None:
    """NDCG against catalog coverage, one line per setting, one point per value (labelled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    for setting, symbol in (("mmr", "λ"), ("popularity", "β")):
        mine = [p for p in points if p.setting == setting]
        x = [p.metrics["coverage"] for p in mine]
        y = [p.metrics[f"ndcg@{k}"] for p in mine]
        ax.plot(x, y, marker="o", label=NAMES[setting])
        for p, a, b in zip(mine, x, y, strict=True):
            ax.annotate(f"{symbol}={p.value:g}", (a, b), textcoords="offset points", xytext=(5, 4), fontsize=7)
    ax.legend(fontsize=8)
    ax.set_xlabel("catalog coverage of the top 10")
    ax.set_ylabel(f"NDCG@{k}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tradeoff_doc(table: str, dataset: str, channel: str, command: str, chart: str) -> str:
    """The generated page: what was measured, the table and the chart."""
    return f"""# Rerank trade-off: coverage against NDCG

Generated by `{command}` on {datetime.now(UTC).strftime("%Y-%m-%d")}; reproduce with exactly that command.

{dataset}, the documented protocol's random 75/25 split (seed 42), full ranking. Each user's top {POOL} by
{channel} (the order that serves there: the ranker guard's choice in [evaluation.md](evaluation.md)) are
reordered by a rerank setting and the top 10 measured on test. Nothing is chosen from this sweep; it states what
each setting costs.

- **MMR lambda**: the rerank chain's MMR rule (lemo/rerank/mmr.py) with category similarity; 1 = the
  channel's order. It buys intra-list diversity, and coverage only at low lambda.
- **popularity discount beta**: relevance (min-max over the user's candidates) minus beta x the item's train
  popularity (log1p count over the catalog's largest). Not a rule of the rerank chain yet.

![NDCG@10 against catalog coverage per rerank setting]({chart})

{table}
"""
