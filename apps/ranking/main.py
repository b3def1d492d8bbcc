"""ranking: a gRPC app (dapr-ext-grpc) scoring candidates; run with `python -m apps.ranking.main`.

Importing this module builds nothing: `main()` reads the settings, builds the ranker pool (which reads the model
registry) and serves."""

from __future__ import annotations

from concurrent import futures

import torch
from dapr.ext.grpc import App
from prometheus_client import start_http_server

from apps.ranking import methods
from apps.ranking.pool import ArtifactLoader, RankerPool
from apps.ranking.settings import RankingSettings
from apps.shared.logging import configure_logging
from apps.shared.security import app_token_interceptors
from apps.shared.settings import MODELS_TOPIC
from apps.shared.tuning import ready_to_serve
from lemo.artifacts import ArtifactStore
from lemo.stores.mongo import ModelRegistry, open_database


def create_app(settings: RankingSettings) -> App:
    """The gRPC app with its methods and subscription, over a ranker pool warming the active rankers."""
    torch.set_num_threads(settings.torch_threads)
    pool = RankerPool(
        lambda: ModelRegistry(open_database(settings.mongodb_uri, settings.mongodb_database)),
        ArtifactLoader(ArtifactStore(settings.artifact_uri)),
        refresh_s=settings.registry_refresh_s,
        first_load_wait_s=settings.first_load_wait_s,
    )
    ranking = methods.RankingMethods(pool)
    pool.preload(settings.preload_versions)
    # App(**kwargs) builds grpc.server(**kwargs): the worker pool, plus the app token check.
    app = App(
        thread_pool=futures.ThreadPoolExecutor(max_workers=settings.max_workers), interceptors=app_token_interceptors()
    )
    app.method("rank")(ranking.rank)
    app.method("score")(methods.score)
    app.method("healthz")(methods.healthz)
    app.subscribe(pubsub_name=settings.pubsub_name, topic=MODELS_TOPIC)(ranking.on_model_event)
    app.register_health_check(lambda: None)
    return app


def main() -> None:
    settings = RankingSettings()
    configure_logging("ranking", settings.log_level)
    app = create_app(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.listen_address)
    ready_to_serve()  # apps/shared/tuning.py: GC and math threads
    app.run(settings.app_port, settings.listen_address)


if __name__ == "__main__":
    main()
