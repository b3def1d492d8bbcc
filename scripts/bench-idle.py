"""What an idle mesh costs: the CPU every local mesh process (apps, sidecars, stores, control plane) spends over
`--seconds` while nothing calls it, as a share of one core, against a running `make up`. Background work (crons,
snapshot refreshes, health probes, placement) shows here, and it is spent on every benchmark's machine too.

    .venv/bin/python scripts/bench-idle.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import time

from lemo_cli.bench_recommend import mesh_cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    before, started = mesh_cpu_seconds(), time.monotonic()
    time.sleep(args.seconds)
    after, seconds = mesh_cpu_seconds(), time.monotonic() - started
    share = {k: round(100 * (after[k] - before.get(k, 0.0)) / seconds, 2) for k in after}
    busy = {k: v for k, v in sorted(share.items(), key=lambda p: -p[1]) if v >= 0.05}
    print(json.dumps({"seconds": round(seconds), "percent_of_a_core": {"total": round(sum(busy.values()), 1), **busy}}))


if __name__ == "__main__":
    main()
