"""The rerank trade-off sweep: its neutral settings reproduce the channel's own lists, and a strong popularity
discount moves lists off the head of the catalog."""

from __future__ import annotations

from lemo.datasets.synthetic import SyntheticShape, generate
from lemo.evaluation.protocol import evaluate_recall
from lemo.evaluation.tradeoff import mmr_tradeoff, popularity_tradeoff, tradeoff_table
from lemo.models import train_recall


def test_neutral_settings_are_the_channel_and_a_discount_raises_coverage() -> None:
    # popularity-skewed (Zipf), so a channel's lists crowd the head of the catalog
    train, test = generate(SyntheticShape(n_users=300, n_items=600, zipf=1.2, seed=3)).split(0.25, seed=0)
    channel = train_recall("ease", train)
    own = evaluate_recall(channel, train, test, k=5)
    mmr = mmr_tradeoff(channel, train, test, k=5, lambdas=(1.0, 0.3))
    popularity = popularity_tradeoff(channel, train, test, k=5, betas=(0.0, 4.0))
    assert mmr[0].metrics["ndcg@5"] == own["ndcg@5"] == popularity[0].metrics["ndcg@5"]
    assert popularity[1].metrics["coverage"] > popularity[0].metrics["coverage"]
    assert popularity[1].metrics["novelty"] > popularity[0].metrics["novelty"]
    assert mmr[1].metrics["diversity"] >= mmr[0].metrics["diversity"]
    assert "| MMR lambda 0.3 |" in tradeoff_table(mmr + popularity, k=5)
