"""Activation policy, artifact layout and the training export: the pure parts of the offline pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pandas as pd
import pytest

from lemo.artifacts import ArtifactStore, UnsupportedArtifactUri
from lemo.models.factory import MODEL_KINDS
from lemo.registry import ActivationPolicy, ModelKind, ModelVersion, should_activate
from lemo.run_data import (
    FULL_RESCAN_S,
    SNAPSHOT_OVERLAP_S,
    archived_after,
    load_run_data,
    merge_snapshot,
    read_export,
    read_snapshot,
    rows_frame,
    write_export,
    write_snapshot,
)


def _version(ndcg: float | None, version: int = 1) -> ModelVersion:
    return ModelVersion(
        tenant_id="t",
        kind="als",
        version=version,
        run_id=f"r{version}",
        metrics={} if ndcg is None else {"ndcg@10": ndcg},
        artifact_uri="file:///x",
        created_at=0.0,
    )


@pytest.mark.parametrize(
    ("policy", "candidate", "active", "min_gain", "expected"),
    [
        (ActivationPolicy.BETTER, 0.30, None, 0.0, True),
        (ActivationPolicy.BETTER, 0.30, 0.25, 0.0, True),
        (ActivationPolicy.BETTER, 0.30, 0.30, 0.0, True),
        (ActivationPolicy.BETTER, 0.29, 0.30, 0.0, False),
        (ActivationPolicy.BETTER, 0.31, 0.30, 0.05, False),
        (ActivationPolicy.BETTER, 0.32, 0.30, 0.05, True),
        (ActivationPolicy.BETTER, None, 0.30, 0.0, False),
        (ActivationPolicy.ALWAYS, 0.10, 0.30, 0.0, True),
        (ActivationPolicy.MANUAL, 0.90, None, 0.0, False),
    ],
)
def test_activation_policy(
    policy: ActivationPolicy, candidate: float | None, active: float | None, min_gain: float, expected: bool
) -> None:
    current = None if active is None else _version(active, version=1)
    decision, reason = should_activate(_version(candidate, version=2), current, policy, "ndcg@10", min_gain)
    assert decision is expected, reason
    assert reason


def test_artifacts_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path.as_uri())
    final = store.model_dir("acme", "als", "run-1")
    with store.writing(final) as tmp:
        (tmp / "model.json").write_text("{}")
    assert (final / "model.json").exists()
    with pytest.raises(RuntimeError), store.writing(final) as tmp:
        (tmp / "model.json").write_text('{"half": true}')
        raise RuntimeError("killed mid-write")
    assert (final / "model.json").read_text() == "{}"
    assert [p.name for p in final.parent.iterdir()] == ["run-1"]  # no temporary left behind
    assert store.path(store.uri(final)) == final
    assert store.delete(store.uri(final)) and not final.exists()


def test_artifact_paths_cannot_escape_their_tenant(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    with pytest.raises(ValueError):
        store.model_dir("../other", "als", "r")
    with pytest.raises(ValueError):
        store.run_dir("acme", "..")
    with pytest.raises(UnsupportedArtifactUri):
        store.path("file:///etc/passwd")
    with pytest.raises(UnsupportedArtifactUri):
        ArtifactStore("s3://bucket/prefix")


def test_export_round_trip_and_deterministic_split(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"user_id": f"u{u}", "item_id": f"i{(u * 7 + k) % 30}", "type": "click", "value": None, "timestamp": k}
        for u in range(20)
        for k in range(8)
    ]
    rows.append({"user_id": "u1", "item_id": "i99", "type": "rate", "value": 4.5, "timestamp": 9.0})
    items = [{"item_id": "i99", "title": "Toy Story", "categories": ["animation"], "tags": [], "attributes": {}}]
    counts = write_export(tmp_path, rows, items, [{"user_id": "u1", "attributes": {"age": 30}}])
    assert (counts.interactions, counts.items, counts.users) == (len(rows), 1, 1)

    data = read_export(tmp_path)
    assert data.n_users == 20 and "i99" in data.item_index
    assert data.items["i99"].title == "Toy Story" and data.users["u1"].attributes == {"age": 30}
    run = load_run_data(tmp_path, 0.25, 7)
    again = load_run_data(tmp_path, 0.25, 7)
    assert run is again  # steps of one run share one read
    assert len(run.train.rows) + len(run.holdout.rows) == len(data.rows)
    assert set(run.holdout.rows.tolist()) <= set(run.train.rows.tolist())  # every holdout user also trains


def test_archive_snapshot_reads_only_new_events_and_forgets_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.parquet"
    now = 1_000_000.0
    assert read_snapshot(path, now) is None
    first = [
        {
            "event_id": f"e{n}",
            "user_id": "u",
            "item_id": f"i{n}",
            "type": "click",
            "value": None,
            "timestamp": now - 9e6,  # old history: retention counts from archiving
            "archived_at": now - n * 86400,
        }
        for n in range(3)
    ]
    frame = merge_snapshot(None, first, retention_cutoff=now - 1.5 * 86400)
    assert sorted(frame["event_id"]) == ["e0", "e1"]  # e2 is past retention
    write_snapshot(path, frame, full_scan_at=now)

    snapshot = read_snapshot(path, now + 60)
    assert snapshot is not None and snapshot.watermark == now
    assert archived_after(snapshot) == now - SNAPSHOT_OVERLAP_S
    again = [{**first[1], "value": 5.0}, {**first[0], "event_id": "e9", "archived_at": now + 30}]
    merged = merge_snapshot(snapshot, again, retention_cutoff=now - 1.5 * 86400)
    assert sorted(merged["event_id"]) == ["e0", "e1", "e9"]  # a re-read event counts once, its latest copy
    assert merged.set_index("event_id").loc["e1", "value"] == 5.0

    write_snapshot(path, merged, full_scan_at=snapshot.full_scan_at)
    assert read_snapshot(path, now + FULL_RESCAN_S + 1) is None  # due for a full rescan


def test_the_api_names_every_model_kind_a_run_trains() -> None:
    assert get_args(ModelKind) == MODEL_KINDS


def test_the_export_read_in_frames_merges_as_the_rows_do() -> None:
    """The export reads the archive in frames of rows (`rows_frame`), not a list of every row: same snapshot."""
    rows = [
        {"event_id": f"e{k}", "user_id": f"u{k % 3}", "item_id": f"i{k % 5}", "type": "click", "timestamp": 1000.0 + k}
        | ({"value": 2.0, "archived_at": 2000.0 + k} if k % 2 else {})
        for k in range(25)
    ]
    frames = pd.concat([rows_frame(rows[k : k + 10]) for k in range(0, 25, 10)], ignore_index=True)
    pd.testing.assert_frame_equal(merge_snapshot(None, frames, 0.0), merge_snapshot(None, rows, 0.0))
