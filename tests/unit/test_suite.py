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
