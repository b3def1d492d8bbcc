"""The robustness suite's datasets and report on small generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lemo.datasets.synthetic import SyntheticShape, generate
from lemo.evaluation.suite import SUITE, SuiteDataset, run_suite, suite_section, summary_table, write_suite_chart

TINY = SyntheticShape(n_users=200, n_items=400, mean_history=12, cold_share=0.25, implicit=False, seed=3)


def test_the_generator_is_seeded_and_keeps_its_shape() -> None:
    data, again = generate(TINY), generate(TINY)
    assert (data.rows == again.rows).all() and (data.cols == again.cols).all()
    assert data.n_items == 400 and data.n_users == 200
    interacted = np.unique(data.cols)
    assert 0.6 * 400 < len(interacted) < 0.8 * 400  # about a quarter of the catalog is cold
    assert len({d.name for d in SUITE}) == len(SUITE) >= 7


def test_suite_reports_the_served_pipeline_against_the_best_channel(tmp_path: Path) -> None:
    tiny = SuiteDataset("tiny", "200 users x 400 items", lambda: generate(TINY))
    results = run_suite(datasets=[tiny], quick=True)
    [(_, report)] = results
    table = summary_table(results)
    assert table.splitlines()[2].startswith("| tiny | ") and f"| {report.served} |" in table
    section = suite_section(results, "chart.png")
    assert "### tiny" in section and "| **served** (" in section
    write_suite_chart(results, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 0


def test_the_target_line_names_the_datasets_below_the_best_channel_plus_one_percent() -> None:
    from lemo.evaluation.runner import EvalReport
    from lemo.evaluation.suite import target_line

    def report(served: float, best: float) -> EvalReport:
        rows = {"ease": {"ndcg@10": best}, "popular": {"ndcg@10": best / 2}, "served": {"ndcg@10": served}}
        return EvalReport("d", 10, 42, rows=rows)

    tiny = SuiteDataset("a", "", lambda: generate(TINY))
    other = SuiteDataset("b", "", lambda: generate(TINY))
    assert target_line([(tiny, report(0.303, 0.30)), (other, report(0.302, 0.30))]).endswith(
        "met on 1 of 2 datasets; not met on b."
    )
    assert target_line([(tiny, report(0.303, 0.30))]).endswith("met on 1 of 1 datasets.")
