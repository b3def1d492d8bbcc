"""The offline protocol: score recall channels, rankers and the whole recall -> rank -> rerank pipeline on a
holdout split, with full ranking over every item a user has not interacted with in train."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from lemo.evaluation.beyond import beyond_accuracy
from lemo.evaluation.metrics import classification_metrics, ranking_metrics
from lemo.evaluation.shared_pairs import logits, ranked_lists, shared_pairs
from lemo.models.base import CatalogRecall, RecallModel, top_k
from lemo.models.data import TrainingData, UserMeta
from lemo.models.rankers import LearnedRanker
from lemo.registry import PIPELINE_PREFIX

USER_BATCH = 512
# ...fewer past this many score cells a batch (100 MB of float32): a training run evaluates its seven channels at
# once, and at 100,000 items their [512 x catalog] batches and copies took the run's peak memory to 7.7 GB.
BATCH_CELLS = 25_000_000


def user_batch(n_items: int) -> int:
    """Users per batch of full-catalog scores: USER_BATCH, fewer past BATCH_CELLS cells (per-row results do not
    depend on it)."""
    return max(16, min(USER_BATCH, BATCH_CELLS // max(n_items, 1)))


# A training run scores its models on at most this many holdout users (a seeded sample, the same for every model,
# so the ranker guard compares paired lists): full ranking costs users x catalog per channel, and at 100,000 users
# and items evaluation alone outran the run's budget. NDCG's standard error over 5,000 users is about 0.004.
EVALUATION_USERS = 5_000


def holdout_users(test: TrainingData) -> np.ndarray:
    """Users with at least one holdout item: the ones every metric averages over."""
    return np.flatnonzero(np.diff(test.matrix.indptr) > 0)


def relevant_items(test: TrainingData, users: np.ndarray) -> list[set[str]]:
    m = test.matrix
    return [{test.item_ids[c] for c in m.indices[m.indptr[u] : m.indptr[u + 1]]} for u in users]


def list_metrics(lists: Sequence[Sequence[str]], train: TrainingData, test: TrainingData, k: int) -> dict[str, float]:
    """Accuracy (`ranking_metrics`) and beyond-accuracy (`beyond_accuracy`) metrics of the holdout users' lists,
    with popularity counted on train."""
    relevant = relevant_items(test, holdout_users(test))
    counts = train.item_popularity()
    popularity = {item: float(counts[n]) for n, item in enumerate(train.item_ids)}
    categories = {i: m.categories for i, m in train.items.items() if m.categories}
    return ranking_metrics(lists, relevant, k, train.n_items) | beyond_accuracy(
        lists, relevant, k, popularity, train.n_users, categories
    )


def recall_lists(
    model: RecallModel, train: TrainingData, users: np.ndarray, k: int, histories: Sequence[Sequence[str]]
) -> list[list[tuple[str, float]]]:
    """Each user's top k unseen items. Catalog models score users in batches; others go through `recommend`."""
    if not isinstance(model, CatalogRecall):
        return [model.recommend(histories[u], k, user_id=train.user_ids[u]) for u in users]
    lists: list[list[tuple[str, float]]] = []
    batch = user_batch(len(model.item_ids))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        batch_histories = [histories[u] for u in chunk]
        rows = model.history_rows(batch_histories)
        scores = model.score_matrix(rows, [train.user_ids[u] for u in chunk])
        scores[rows.nonzero()] = np.nan
        for row in range(len(chunk)):
            lists.append([(model.item_ids[n], float(scores[row, n])) for n in top_k(scores[row], k)])
    return lists


def evaluate_recall(model: RecallModel, train: TrainingData, test: TrainingData, k: int = 10) -> dict[str, float]:
    """NDCG@k, Precision@k, Recall@k, HR@k and coverage of one channel's own top k."""
    users = holdout_users(test)
    lists = recall_lists(model, train, users, k, train.histories())
    return list_metrics([[i for i, _ in r] for r in lists], train, test, k)


def evaluate_ranker(
    model: LearnedRanker, train: TrainingData, test: TrainingData, negatives_per_positive: int = 4, seed: int = 42
) -> dict[str, float]:
    """AUC and log loss on every holdout positive plus uniformly sampled items the user never interacted with."""
    rng = np.random.default_rng(seed)
    users = holdout_users(test)
    histories = train.histories()
    known = (train.matrix + test.matrix).tocsr()
    labels, logits = [], []
    for start in range(0, len(users), USER_BATCH):
        chunk = users[start : start + USER_BATCH]
        candidates = []
        for u in chunk:
            positives = test.matrix.indices[test.matrix.indptr[u] : test.matrix.indptr[u + 1]]
            drawn = rng.integers(0, train.n_items, negatives_per_positive * len(positives))
            negatives = np.setdiff1d(drawn, known.indices[known.indptr[u] : known.indptr[u + 1]])
            candidates.append([train.item_ids[i] for i in (*positives, *negatives)])
            labels.append(np.r_[np.ones(len(positives)), np.zeros(len(negatives))])
        metas = [train.users.get(train.user_ids[u], UserMeta(train.user_ids[u])) for u in chunk]
        logits.extend(model.score_many(metas, [histories[u] for u in chunk], candidates))
    return classification_metrics(np.concatenate(labels), np.concatenate(logits))


def merge_candidates(channel_lists: Sequence[Sequence[tuple[str, float]]]) -> list[str]:
    """Union of the channels' candidates in order of first appearance (each item once)."""
    return list(dict.fromkeys(item for ranked in channel_lists for item, _ in ranked))


def rerank(
    ranked: Sequence[tuple[str, float]],
    k: int,
    categories: Mapping[str, Collection[str]],
    diversity: float = 0.0,
) -> list[str]:
    """Greedy MMR over categories: each pick pays `diversity` x the largest category overlap (Jaccard) with the
    items already picked. 0 keeps the ranker's order."""
    if diversity <= 0:
        return [item for item, _ in sorted(ranked, key=lambda p: -p[1])[:k]]
    pool = sorted(ranked, key=lambda p: -p[1])[: 5 * k]
    picked: list[str] = []
    while pool and len(picked) < k:

        def penalised(pair: tuple[str, float]) -> float:
            mine = set(categories.get(pair[0], ()))
            overlap = max(
                (
                    len(mine & set(categories.get(p, ()))) / max(len(mine | set(categories.get(p, ()))), 1)
                    for p in picked
                ),
                default=0.0,
            )
            return pair[1] - diversity * overlap

        best = max(pool, key=penalised)
        picked.append(best[0])
        pool.remove(best)
    return picked


def pipeline_candidates(
    channels: Mapping[str, RecallModel], train: TrainingData, test: TrainingData, per_channel: int = 100
) -> list[list[str]]:
    """The recall stage for every holdout user: each channel's top `per_channel`, merged with dedupe."""
    users = holdout_users(test)
    histories = train.histories()
    per_model = [recall_lists(m, train, users, per_channel, histories) for m in channels.values()]
    return [merge_candidates([lists[n] for lists in per_model]) for n in range(len(users))]


def evaluate_pipeline(
    channels: Mapping[str, RecallModel],
    ranker: LearnedRanker,
    train: TrainingData,
    test: TrainingData,
    k: int = 10,
    candidates_per_channel: int = 100,
    diversity: float = 0.0,
    candidates: Sequence[Sequence[str]] | None = None,
) -> dict[str, float]:
    """Recall (every channel's top `candidates_per_channel`, merged with dedupe; or precomputed `candidates`
    from `pipeline_candidates`, to share them between rankers) -> rank (the ranker's scores over all
    candidates) -> rerank (`rerank`), measured on the final top k."""
    users = holdout_users(test)
    histories = train.histories()
    if candidates is None:
        candidates = pipeline_candidates(channels, train, test, candidates_per_channel)
    categories = {i: m.categories for i, m in train.items.items()}
    final: list[list[str]] = []
    for start in range(0, len(users), USER_BATCH):
        chunk = range(start, min(start + USER_BATCH, len(users)))
        ids = [train.user_ids[users[n]] for n in chunk]
        metas = [train.users.get(u, UserMeta(u)) for u in ids]
        batch = [candidates[n] for n in chunk]
        scores = ranker.score_many(metas, [histories[users[n]] for n in chunk], batch)
        for cands, s in zip(batch, scores, strict=True):
            final.append(rerank(list(zip(cands, s.tolist(), strict=True)), k, categories, diversity))
    return list_metrics(final, train, test, k)


def sample_users(holdout: TrainingData, max_users: int, seed: int = 42) -> TrainingData:
    """The holdout pairs of a seeded sample of `max_users` of its users (all of them when there are fewer)."""
    users = holdout_users(holdout)
    if max_users <= 0 or len(users) <= max_users:
        return holdout
    chosen = np.zeros(holdout.n_users, dtype=bool)
    chosen[np.random.default_rng(seed).choice(users, max_users, replace=False)] = True
    return holdout.subset(chosen[holdout.rows])


def evaluate_trained(
    model: RecallModel | LearnedRanker,
    recall: Mapping[str, RecallModel],
    train: TrainingData,
    holdout: TrainingData,
    seed: int = 42,
    k: int = 10,
    max_users: int = EVALUATION_USERS,
) -> dict[str, float]:
    """What a training run records for one trained model on its holdout (`sample_users` of it): a channel's own
    top-k metrics, or a ranker's AUC plus its whole pipeline's metrics (recall channels -> this ranker -> top k)
    under `PIPELINE_PREFIX`, measured on the same users as the channels so the ranker guard can compare them.
    The run's rankers share the channels' work on those users (`shared_pairs`)."""
    sample = sample_users(holdout, max_users, seed)
    evaluated = {"evaluated_users": float(len(holdout_users(sample)))}  # shown beside the metrics
    if isinstance(model, LearnedRanker):
        return evaluate_ranker_shared(model, recall, train, sample, holdout, (max_users, seed), seed, k) | evaluated
    return evaluate_recall(model, train, sample, k=k) | evaluated


def evaluate_ranker_shared(
    model: LearnedRanker,
    recall: Mapping[str, RecallModel],
    train: TrainingData,
    test: TrainingData,
    holdout: TrainingData,
    sample_key: tuple[int, int],
    seed: int = 42,
    k: int = 10,
) -> dict[str, float]:
    """`evaluate_ranker` and `evaluate_pipeline` (diversity 0, the channels' top 100) on `test` in one pass of
    the channels, shared with the run's other rankers; the channels must be the ones the ranker fuses."""
    users = holdout_users(test)
    if set(recall) != set(model.space.channels) or not recall:  # not this ranker's own channels: no sharing
        metrics = evaluate_ranker(model, train, test, seed=seed)
        pipeline = evaluate_pipeline(recall, model, train, test, k=k)
        return metrics | {PIPELINE_PREFIX + name: value for name, value in pipeline.items()}
    pairs = shared_pairs(model, recall, train, test, users, holdout=holdout, key=sample_key, seed=seed)
    metrics = classification_metrics(pairs.labels, logits(model, train, users, pairs.auc))
    scores = logits(model, train, users, pairs.pipeline)
    pipeline = list_metrics(ranked_lists(model.space, pairs.pipeline, scores, len(users), k), train, test, k)
    return metrics | {PIPELINE_PREFIX + name: value for name, value in pipeline.items()}
