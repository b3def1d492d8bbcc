"""ranking: a gRPC app (dapr-ext-grpc) scoring candidates; run with `python -m apps.ranking.main`."""

from __future__ import annotations

from concurrent import futures

from dapr.ext.grpc import App

from apps.ranking import methods
from apps.ranking.settings import RankingSettings
from apps.shared.logging import configure_logging
from apps.shared.security import app_token_interceptors

settings = RankingSettings()
configure_logging("ranking", settings.log_level)

# App(**kwargs) builds grpc.server(**kwargs): the SDK's own pool size, plus the app token check.
app = App(thread_pool=futures.ThreadPoolExecutor(max_workers=10), interceptors=app_token_interceptors())
app.method("score")(methods.score)
app.method("healthz")(methods.healthz)
app.register_health_check(lambda: None)

if __name__ == "__main__":
    app.run(settings.app_port, settings.listen_address)
