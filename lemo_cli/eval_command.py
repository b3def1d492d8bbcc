"""`lemo eval`: arguments and entry point (wired into lemo/cli.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lemo.evaluation.report import render_text, write_chart
from lemo.evaluation.runner import file_data, movielens_data, run_protocol
from lemo.evaluation.suite import run_suite, suite_section, summary_table, write_suite_chart
from lemo.evaluation.tradeoff import (
    POOL,
    mmr_tradeoff,
    popularity_tradeoff,
    tradeoff_doc,
    tradeoff_table,
    write_tradeoff_chart,
)
from lemo.models import RANKER_KINDS, RECALL_KINDS, SMALL_TENANT_INTERACTIONS, TrainingData, train_recall
from lemo.models.factory import FUSED_CHANNELS, SMALL_TENANT_CHANNELS
from lemo_cli.eval_docs import write_docs

SUITE_CHART = "evaluation-suite.png"
TRADEOFF_CHART = "evaluation-tradeoff.png"
TRADEOFF_DOC = "evaluation-tradeoff.md"


def _kinds(value: str, allowed: tuple[str, ...]) -> list[str]:
    kinds = [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(kinds) - set(allowed))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {unknown}; expected some of {', '.join(allowed)}")
    return kinds


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interactions", type=Path, help="CSV/Parquet in the `lemo load interactions` format (default: MovieLens-100k)"
    )
    parser.add_argument("--k", type=int, default=10, help="list length for every ranking metric (default 10)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the per-user 75/25 split and of training")
    parser.add_argument(
        "--channels",
        type=lambda v: _kinds(v, RECALL_KINDS),
        default=list(RECALL_KINDS),
        help=f"comma-separated recall channels (default: {','.join(RECALL_KINDS)})",
    )
    parser.add_argument(
        "--rankers",
        type=lambda v: _kinds(v, RANKER_KINDS),
        default=list(RANKER_KINDS),
        help=f"comma-separated rankers, each evaluated alone and in the pipeline (default: {','.join(RANKER_KINDS)})",
    )
    parser.add_argument(
        "--pipeline-channels",
        type=lambda v: _kinds(v, RECALL_KINDS),
        default=None,
        help=(
            f"channels merged and fused in the pipeline (default: {','.join(FUSED_CHANNELS)}, plus "
            f"{','.join(SMALL_TENANT_CHANNELS)} up to {SMALL_TENANT_INTERACTIONS:,} interactions, as in training)"
        ),
    )
    parser.add_argument(
        "--split",
        choices=["random", "temporal", "both"],
        default="both",
        help="holdout protocol: each user's random 25%%, newest 25%%, or both (default)",
    )
    parser.add_argument(
        "--suite",
        nargs="?",
        const="all",
        help="also run the robustness suite (all datasets, or a comma-separated list; lemo/evaluation/suite.py)",
    )
    parser.add_argument("--diversity", type=float, default=0.0, help="MMR category-diversity weight in rerank")
    parser.add_argument(
        "--tradeoff",
        nargs="?",
        const="ease",
        metavar="CHANNEL",
        help="only the rerank trade-off (coverage vs NDCG) over CHANNEL's order (default ease, the served order "
        "on MovieLens-100k): writes evaluation-tradeoff.md and .png (lemo/evaluation/tradeoff.py)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="write evaluation.md and evaluation.png here (default: docs/ on MovieLens, nothing otherwise)",
    )
    parser.add_argument("--quick", action="store_true", help="a few epochs only: a smoke run, not a measurement")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_eval(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.interactions is not None:
        data, dataset, output = file_data(args.interactions), args.interactions.name, args.output_dir
    else:
        data, dataset, output = movielens_data(), "MovieLens-100k", args.output_dir or Path("docs")
    loaded = time.perf_counter() - started
    if args.tradeoff:
        return _tradeoff(args, data, dataset, output)
    reports = {}
    for split in ("random", "temporal") if args.split == "both" else (args.split,):
        reports[split] = run_protocol(
            data,
            dataset=dataset,
            k=args.k,
            seed=args.seed,
            channels=args.channels,
            rankers=args.rankers,
            pipeline_channels=args.pipeline_channels,
            quick=args.quick,
            diversity=args.diversity,
            quiet=args.quiet,
            split=split,
            log=lambda line: print(line, file=sys.stderr),
        )
        reports[split].timings = {"load data": loaded, **reports[split].timings}
        print(render_text(reports[split]) + "\n")
    report = reports.get("random") or reports["temporal"]
    suite_text = ""
    if args.suite:
        results = run_suite(
            None if args.suite == "all" else args.suite.split(","),
            quick=args.quick,
            quiet=args.quiet,
            log=lambda line: print(line, file=sys.stderr),
        )
        print(summary_table(results))
        if output is not None:
            write_suite_chart(results, output / SUITE_CHART)
            suite_text = suite_section(results, SUITE_CHART)
    if output is not None:
        command = "lemo eval" + (f" --interactions {args.interactions}" if args.interactions else "")
        command += f" --split {args.split}" if args.split != "both" else ""
        command += (" --suite" + ("" if args.suite == "all" else f" {args.suite}")) if args.suite else ""
        temporal = reports.get("temporal") if report is not reports.get("temporal") else None
        write_docs(report, output / "evaluation.md", command=command, temporal=temporal, suite=suite_text)
        write_chart(report, output / "evaluation.png")
        print(f"\nwrote {output / 'evaluation.md'} and {output / 'evaluation.png'}")
    return 0


def _tradeoff(args: argparse.Namespace, data: TrainingData, dataset: str, output: Path | None) -> int:
    train, test = data.split(0.25, seed=args.seed)
    channel = train_recall(args.tradeoff, train, seed=args.seed)
    points = mmr_tradeoff(channel, train, test, args.k) + popularity_tradeoff(channel, train, test, args.k)
    table = tradeoff_table(points, args.k)
    print(table)
    if output is not None:
        title = f"{dataset}: rerank settings over {args.tradeoff}'s top {POOL}, random 75/25 split (test)"
        write_tradeoff_chart(points, output / TRADEOFF_CHART, title, args.k)
        command = "lemo eval --tradeoff" + (f" {args.tradeoff}" if args.tradeoff != "ease" else "")
        command += f" --interactions {args.interactions}" if args.interactions else ""
        (output / TRADEOFF_DOC).write_text(tradeoff_doc(table, dataset, args.tradeoff, command, TRADEOFF_CHART))
        print(f"\nwrote {output / TRADEOFF_DOC} and {output / TRADEOFF_CHART}")
    return 0
