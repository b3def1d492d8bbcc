"""scripts/watchdog.py: finds apps by APP_ID and sidecars by daprd's --app-id, starts what died again with the same
command, environment and folder, backs off, and reports what is down. Real processes, no sidecar needed."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("watchdog", ROOT / "scripts" / "watchdog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["watchdog"] = module
    spec.loader.exec_module(module)
    return module


watchdog = _load()


def test_app_ids_come_from_the_run_template() -> None:
    assert watchdog.app_ids_of(ROOT / "dapr.yaml") == [
        "gateway", "events", "profiles", "catalog", "ranking", "trainer", "recall", "rerank", "feeds"
    ]  # fmt: skip


def test_an_app_is_found_by_its_app_id_and_a_sidecar_by_daprd_flags() -> None:
    P = watchdog.Process
    procs = [
        P(10, ["/x/daprd", "--app-id", "gateway", "--app-port", "8080"], {}, "/", 1),
        P(11, ["python", "-m", "uvicorn", "apps.gateway.main:app"], {"APP_ID": "gateway"}, "/", 1),
        P(12, ["python", "-c", "worker"], {"APP_ID": "gateway"}, "/", 11),  # the app's own child
        P(13, ["python", "-m", "uvicorn", "apps.events.main:app"], {"APP_ID": "events"}, "/", 1),
    ]
    app = watchdog.Member("gateway", "gateway", sidecar=False)
    sidecar = watchdog.Member("gateway-sidecar", "gateway", sidecar=True)
    assert watchdog.find(app, procs).pid == 11
    assert watchdog.find(sidecar, procs).pid == 10
    assert watchdog.find(watchdog.Member("recall", "recall", sidecar=False), procs) is None


def _until(done: object, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_killed_app_is_started_again_with_its_command_environment_and_folder(tmp_path: Path) -> None:
    app_id = f"wd-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "started"
    script = (
        f"import os, time, pathlib; pathlib.Path({str(marker)!r}).write_text(os.getcwd() + ' ' + os.environ['SECRET'])"
        "; time.sleep(60)"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "APP_ID": app_id, "SECRET": "s3"}, cwd=tmp_path
    )
    dog = watchdog.Watchdog([app_id], tmp_path / "state")
    dog.members = [m for m in dog.members if not m.sidecar]  # no daprd in a unit test
    try:
        assert _until(lambda: marker.exists())
        now = time.time()
        dog.tick(now)
        [member] = dog.members
        assert (member.pid, member.restarts) == (first.pid, 0)
        saved = tmp_path / "state" / "watchdog" / f"{app_id}.command.json"
        assert oct(saved.stat().st_mode & 0o777) == "0o600"  # it holds the environment: tokens

        marker.unlink()
        first.send_signal(signal.SIGKILL)  # left unreaped: a zombie counts as gone
        dog.tick(now + 0.1)
        assert member.pid is None and member.down_since == pytest.approx(now + 0.1)
        assert not marker.exists()  # the first restart waits out the backoff
        dog.tick(now + 0.1 + watchdog.FIRST_BACKOFF_S)
        assert member.restarts == 1
        assert _until(lambda: marker.exists())
        assert marker.read_text() == f"{tmp_path} s3"
        dog.tick(now + 2)
        assert member.pid not in (None, first.pid) and member.down_since is None

        status = json.loads((tmp_path / "state" / "watchdog" / "status.json").read_text())
        assert status["members"][0]["restarts"] == 1
    finally:
        dog.stop()
        first.wait(5)


def test_a_watchdog_started_again_still_knows_the_commands(tmp_path: Path) -> None:
    dog = watchdog.Watchdog(["a"], tmp_path)
    dog.members[0].command = None
    folder = tmp_path / "watchdog"
    (folder / "a.command.json").write_text(json.dumps({"argv": ["true"], "env": {}, "cwd": "/"}))
    again = watchdog.Watchdog(["a"], tmp_path)
    assert again.members[0].command == {"argv": ["true"], "env": {}, "cwd": "/"}
    assert again.members[1].command is None  # the sidecar was never seen
