#!/usr/bin/env python3
"""The local mesh's supervisor: an app or a sidecar that dies is started again, with backoff, and logged.

`dapr run -f` starts every app and its daprd but only logs when one exits. This watchdog, started beside it by
`make up`, looks at the processes every second. Each app is found by the APP_ID its environment carries, each
sidecar by daprd's `--app-id`; while one runs, its command line, environment and working directory are kept (in
the state folder, readable by its owner only: the environment holds the mesh tokens). When it is gone (or a
zombie), the same command is started again after a backoff that doubles from 1 s to 30 s, and is reset once the
process has stayed up for a minute. `status` prints what is up, what is down and since when, and how often each
was restarted. Standard library only: it must run when nothing else does.

    watchdog.py run [--run-file dapr.yaml | --app-id ID ...] [--state DIR]
    watchdog.py status [--state DIR] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger("watchdog")

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0


@dataclass
class Process:
    pid: int
    argv: list[str]
    env: dict[str, str]
    cwd: str
    ppid: int


@dataclass
class Member:
    """One supervised process: an app (`gateway`) or its sidecar (`gateway-sidecar`)."""

    name: str
    app_id: str
    sidecar: bool
    pid: int | None = None
    up_since: float | None = None
    down_since: float | None = None
    restarts: int = 0
    backoff_s: float = FIRST_BACKOFF_S
    next_try: float = 0.0
    command: dict[str, object] | None = field(default=None, repr=False)


def app_ids_of(run_file: Path) -> list[str]:
    """The appIDs of a `dapr run -f` template (read without a YAML parser: `- appID: name` lines)."""
    return re.findall(r"^\s*-\s*appID:\s*([\w.-]+)\s*$", run_file.read_text(), flags=re.MULTILINE)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def processes() -> list[Process]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = _read(f"/proc/{entry.name}/stat").decode()
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state in ("Z", "X"):  # exited, not yet reaped by its parent: as good as gone
                continue
            argv = [a.decode(errors="replace") for a in _read(f"/proc/{entry.name}/cmdline").split(b"\0") if a]
            env_items = (
                e.decode(errors="replace").partition("=")
                for e in _read(f"/proc/{entry.name}/environ").split(b"\0")
                if e
            )
            env = {k: v for k, _, v in env_items}
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
        if argv:
            found.append(Process(int(entry.name), argv, env, cwd, int(ppid)))
    return found


def _is_sidecar_of(proc: Process, app_id: str) -> bool:
    argv = proc.argv
    return Path(argv[0]).name == "daprd" and any(a == "--app-id" and b == app_id for a, b in itertools.pairwise(argv))


def find(member: Member, procs: list[Process]) -> Process | None:
    if member.sidecar:
        matches = [p for p in procs if _is_sidecar_of(p, member.app_id)]
    else:
        matches = [p for p in procs if p.env.get("APP_ID") == member.app_id and Path(p.argv[0]).name != "daprd"]
        # An app's own child processes inherit APP_ID: the app is the one whose parent is not also a match.
        pids = {p.pid for p in matches}
        matches = [p for p in matches if p.ppid not in pids]
    return min(matches, key=lambda p: p.pid) if matches else None


class Watchdog:
    def __init__(self, app_ids: list[str], state: Path) -> None:
        self.folder = state / "watchdog"
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.logs = state / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.members = [Member(f"{a}{'-sidecar' if s else ''}", a, s) for a in app_ids for s in (False, True)]
        self.children: list[subprocess.Popen[bytes]] = []
        for m in self.members:
            saved = self.folder / f"{m.name}.command.json"
            if saved.exists():  # a watchdog started again still knows how to start what it saw before
                m.command = json.loads(saved.read_text())

    def tick(self, now: float) -> None:
        self.children = [c for c in self.children if c.poll() is None]  # reap what we started
        procs = processes()
        for m in self.members:
            proc = find(m, procs)
            if proc is not None:
                self._seen_up(m, proc, now)
            elif m.command is not None:
                self._seen_down(m, now)
        self._write_status(now)

    def _seen_up(self, m: Member, proc: Process, now: float) -> None:
        if proc.pid != m.pid:
            if m.down_since is not None:
                logger.info("%s is up again (pid %d) after %.1f s down", m.name, proc.pid, now - m.down_since)
            m.pid, m.up_since, m.down_since = proc.pid, now, None
            m.command = {"argv": proc.argv, "env": proc.env, "cwd": proc.cwd}
            saved = self.folder / f"{m.name}.command.json"
            saved.touch(mode=0o600)
            saved.write_text(json.dumps(m.command))
        if m.up_since is not None and now - m.up_since >= STABLE_AFTER_S:
            m.backoff_s = FIRST_BACKOFF_S

    def _seen_down(self, m: Member, now: float) -> None:
        if m.down_since is None:
            m.down_since, m.up_since = now, None
            m.next_try = now + m.backoff_s
            logger.warning("%s (pid %s) is gone; starting it again in %.0f s", m.name, m.pid, m.backoff_s)
            m.pid = None
        if now < m.next_try or m.command is None:
            return
        argv = [str(a) for a in m.command["argv"]]  # type: ignore[attr-defined]
        env = {str(k): str(v) for k, v in m.command["env"].items()}  # type: ignore[attr-defined]
        log = (self.logs / f"{m.name}.log").open("ab")
        try:
            child = subprocess.Popen(
                argv,
                env=env,
                cwd=str(m.command["cwd"]),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            logger.error("%s could not be started: %s", m.name, exc)
        else:
            self.children.append(child)
            m.restarts += 1
            logger.warning("%s started again (pid %d, restart %d)", m.name, child.pid, m.restarts)
        finally:
            log.close()
        m.backoff_s = min(m.backoff_s * 2, MAX_BACKOFF_S)
        m.next_try = now + m.backoff_s

    def _write_status(self, now: float) -> None:
        doc = {
            "updated": now,
            "members": [{k: v for k, v in asdict(m).items() if k != "command"} for m in self.members],
        }
        tmp = self.folder / "status.json.tmp"
        tmp.write_text(json.dumps(doc))
        tmp.replace(self.folder / "status.json")

    def stop(self) -> None:
        """Stops what this watchdog started (the rest belongs to `dapr run -f`, which `make down` stops)."""
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


def run(args: argparse.Namespace) -> int:
    app_ids = args.app_id or app_ids_of(Path(args.run_file))
    if not app_ids:
        logger.error("no apps to watch")
        return 2
    dog = Watchdog(app_ids, Path(args.state))
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("watching %s", ", ".join(app_ids))
    while not stopping:
        dog.tick(time.time())
        time.sleep(args.interval)
    dog.stop()
    return 0


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(then)) + f" ({now - then:.0f} s ago)"


def status(args: argparse.Namespace) -> int:
    path = Path(args.state) / "watchdog" / "status.json"
    if not path.exists():
        sys.stderr.write("the watchdog is not running (`make up` starts it)\n")
        return 1
    doc = json.loads(path.read_text())
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    now = time.time()
    stale = now - doc["updated"] > 10
    rows = [("process", "state", "pid", "since", "restarts")]
    for m in doc["members"]:
        up = m["pid"] is not None
        state = "up" if up else ("down" if m["down_since"] else "never seen")
        rows.append(
            (
                m["name"],
                state,
                str(m["pid"] or "-"),
                _ago(now, m["up_since"] if up else m["down_since"]),
                str(m["restarts"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    if stale:
        sys.stdout.write(f"(the watchdog last looked {now - doc['updated']:.0f} s ago: it is not running)\n")
    down = [m for m in doc["members"] if m["pid"] is None]
    return 1 if stale or down else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    state = os.environ.get("LEMO_STATE", str(Path(__file__).resolve().parents[1] / ".state"))
    r = commands.add_parser("run", help="supervise the mesh until stopped")
    r.add_argument("--run-file", default="dapr.yaml", help="the `dapr run -f` template naming the apps")
    r.add_argument("--app-id", action="append", help="watch these apps instead (repeatable)")
    r.add_argument("--state", default=state)
    r.add_argument("--interval", type=float, default=1.0)
    r.set_defaults(run=run)
    s = commands.add_parser("status", help="what is up, what is down and since when")
    s.add_argument("--state", default=state)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=status)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
