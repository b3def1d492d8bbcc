"""Starts real apps with real daprd sidecars for integration tests (the stores come from scripts/infra.sh).

Each `App` is one app process plus its sidecar on free loopback ports; either side can be killed and
restarted, which is how the crash-resume tests work. Nothing here imitates Dapr: it runs the daprd binary
that `make test` built.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dapr.aio.clients import DaprClient
from dapr.conf import settings as dapr_settings

ROOT = Path(__file__).resolve().parents[2]
DAPR_HOME = Path(os.environ.get("DAPR_HOME", Path.home() / ".dapr"))
DAPRD = DAPR_HOME / "bin" / "daprd"
STATE = Path(os.environ.get("LEMO_STATE", ROOT / ".state"))
PLACEMENT = "127.0.0.1:" + os.environ.get("LEMO_PLACEMENT_PORT", "50005")
SCHEDULER = "127.0.0.1:" + os.environ.get("LEMO_SCHEDULER_PORT", "50006")


# Fixed ports of the `make up` mesh (dapr.yaml, scripts/infra.sh) that lie in the kernel's ephemeral range: a test
# sidecar given one of them by the kernel could still hold it when the smoke step starts the mesh.
_RESERVED = range(50000, 50300)
# Every port handed out in this run: the kernel may offer a just-closed port again, and two ports of one sidecar
# (app and gRPC, say) must never be the same.
_HANDED_OUT: set[int] = set()

# Both tokens are on for every sidecar and app started here, as in `make up` (docs/security.md): daprd requires
# DAPR_API_TOKEN on its API and sends APP_API_TOKEN on every call into its app. One pair per test session.
DAPR_API_TOKEN = secrets.token_urlsafe(24)
APP_API_TOKEN = secrets.token_urlsafe(24)
TOKEN_HEADER = "dapr-api-token"


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _RESERVED and port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def resources(profile: str, overrides: dict[str, str] | None = None) -> list[Path]:
    """The resource dirs a sidecar loads: the shared components plus one pub/sub profile.

    `overrides` maps a component file name to replacement YAML text (for example a faster cron schedule), or
    `pubsub.yaml` to the profile's pub/sub component (for example with publishing scopes); the folders are then
    copied so the committed files stay as they are.
    """
    folders = [ROOT / "components", ROOT / "components" / f"pubsub-{profile}"]
    if not overrides:
        return folders
    copies = []
    for folder in folders:
        copy = Path(tempfile.mkdtemp(prefix="lemo-components-"))
        for f in folder.glob("*.yaml"):
            shutil.copy(f, copy / f.name)
        for name, text in overrides.items():
            if (folder / name).exists() or (name != "pubsub.yaml" and folder == folders[0]):
                (copy / name).write_text(text)
        copies.append(copy)
    return copies


# Apps with bulk subscriptions run without an app health check (dapr.yaml): daprd stops the subscriptions of an app
# it finds unhealthy, and on Redis streams the messages in flight at that moment stay pending for good (docs/faults.md).
BULK_SUBSCRIBERS = ("apps.profiles.main", "apps.events.main", "apps.feeds.main")


@dataclass
class App:
    app_id: str
    command: list[str] | None  # None: a sidecar without an app, for using building blocks directly
    app_protocol: str = "http"
    profile: str = "redis"
    env: dict[str, str] = field(default_factory=dict)
    component_overrides: dict[str, str] | None = None
    # None: on, except for the apps with bulk subscriptions, as in dapr.yaml (docs/faults.md says why).
    app_health_check: bool | None = None
    app_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    dapr_api_token: str = DAPR_API_TOKEN
    app_api_token: str = APP_API_TOKEN
    # With no command: a sidecar for a server another process runs on app_port (a second sidecar in front of the
    # gateway's gRPC port, say).
    fronts_port: bool = False
    _app: subprocess.Popen[bytes] | None = None
    _daprd: subprocess.Popen[bytes] | None = None
    _logs: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.app_health_check is None:
            self.app_health_check = not any(m in part for part in self.command or [] for m in BULK_SUBSCRIBERS)

    @property
    def sidecar(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def headers(self) -> dict[str, str]:
        """What a call to this sidecar's API must carry (HTTP headers; as gRPC metadata: `.items()`)."""
        return {TOKEN_HEADER: self.dapr_api_token}

    @property
    def tokens(self) -> dict[str, str]:
        """The environment both processes get: daprd enforces and sends them, the app sends and checks them."""
        return {"DAPR_API_TOKEN": self.dapr_api_token, "APP_API_TOKEN": self.app_api_token}

    def start(self, timeout_s: float = 120.0) -> App:
        try:
            self.start_app()
            self.start_sidecar(timeout_s)
        except BaseException:
            self.stop()  # a fixture that fails to start has no teardown: leave nothing running
            raise
        return self

    def start_app(self) -> None:
        if self.command is None:
            return
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "APP_ID": self.app_id,
            "APP_PORT": str(self.app_port),
            "DAPR_HTTP_PORT": str(self.http_port),
            "DAPR_GRPC_PORT": str(self.grpc_port),
            **self.tokens,
            **self.env,
        }
        cmd = [c.replace("{port}", str(self.app_port)) for c in self.command]
        self._app = self._spawn("app", cmd, env)

    def start_sidecar(self, timeout_s: float = 120.0) -> None:
        cmd = [
            str(DAPRD),
            "--app-id",
            self.app_id,
            "--dapr-http-port",
            str(self.http_port),
            "--dapr-grpc-port",
            str(self.grpc_port),
            "--dapr-internal-grpc-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--dapr-listen-addresses",
            "127.0.0.1",
            "--config",
            str(ROOT / "components" / "configuration" / "lemo.yaml"),
            "--placement-host-address",
            PLACEMENT,
            "--scheduler-host-address",
            SCHEDULER,
            "--log-level",
            os.environ.get("LEMO_TEST_DAPRD_LOG_LEVEL", "warn"),  # info or debug to follow a failing test
        ]
        if self.command is not None or self.fronts_port:
            cmd += [
                "--app-port",
                str(self.app_port),
                "--app-protocol",
                self.app_protocol,
            ]
        if self.command is not None and self.app_health_check:
            cmd += [
                "--enable-app-health-check",
                "--app-health-probe-interval",
                "1",
                # Two missed probes, not one: a single probe slowed past its 500 ms timeout by a busy machine
                # would cut off every delivery in flight. Failure is still seen within 2 s.
                "--app-health-threshold",
                "2",
            ]
            if self.app_protocol == "http":
                cmd += ["--app-health-check-path", "/healthz"]
        for path in resources(self.profile, self.component_overrides):
            cmd += ["--resources-path", str(path)]
        self._daprd = self._spawn("daprd", cmd, {**os.environ, **self.tokens})
        self.wait_ready(timeout_s)

    def client(self) -> DaprClient:
        """An async Dapr client on this sidecar (the SDK's health check reads global settings: set them)."""
        dapr_settings.DAPR_HTTP_PORT = self.http_port  # type: ignore[attr-defined]
        dapr_settings.DAPR_GRPC_PORT = self.grpc_port  # type: ignore[attr-defined]
        dapr_settings.DAPR_API_TOKEN = self.dapr_api_token  # type: ignore[attr-defined]
        return DaprClient(f"127.0.0.1:{self.grpc_port}")

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Waits for the sidecar's full health check: its components loaded and the app reachable.
        (/v1.0/healthz is the one sidecar route daprd leaves open without the API token.)"""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for proc, what in ((self._daprd, "daprd"), (self._app, "app")):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{self.app_id} {what} exited ({proc.returncode}):\n{self.logs()}")
            try:
                app_up = self.command is None or port_open(self.app_port)
                if app_up and httpx.get(f"{self.sidecar}/v1.0/healthz", timeout=1.0).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.app_id} not ready after {timeout_s}s:\n{self.logs()}")

    def kill_app(self) -> None:
        """kill -9 the app process only; its sidecar stays."""
        if self._app is not None:
            self._app.send_signal(signal.SIGKILL)
            self._app.wait(10)
            self._app = None

    def restart_app(self, timeout_s: float = 120.0) -> None:
        self.kill_app()
        self.start_app()
        self.wait_ready(timeout_s)

    def stop(self) -> None:
        for proc in (self._app, self._daprd):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self._app, self._daprd):
            if proc is not None:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self._app = self._daprd = None

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in self._logs if p.exists())

    def _spawn(self, what: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_dir = STATE / "logs" / "tests"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{self.app_id}-{what}-{len(self._logs)}.log"
        self._logs.append(log)
        with log.open("wb") as out:
            return subprocess.Popen(_dies_with_us(cmd), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


# A test run killed halfway (a timeout, ^C, SIGKILL) must not leave its apps behind: an orphaned actor host stays
# registered with placement and takes over actors of the next run's tests. setpriv (util-linux) starts each child
# with a parent-death signal, so the kernel stops it when the process that started it dies, however it dies. The
# harness spawns from the main thread only (the signal follows the spawning thread).
_SETPRIV = shutil.which("setpriv")


def _dies_with_us(cmd: list[str]) -> list[str]:
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *cmd] if _SETPRIV else cmd


def uvicorn(module: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{module}:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
        # Longer than daprd keeps an idle connection into its app (90 s), as in dapr.yaml.
        "--timeout-keep-alive",
        "120",
    ]


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]
