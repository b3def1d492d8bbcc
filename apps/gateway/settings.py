from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings
from lemo.serving.settings import ReadPathSettings


class GatewaySettings(LemoSettings, ReadPathSettings):
    """The gateway's settings; the read path's section (stage app ids, deadlines, scenario cache) is
    lemo.serving.settings.ReadPathSettings, read here as GATEWAY_RECALL_DEADLINE_S and so on."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    # Authorizes tenant administration (DESIGN.md section 9 names it LEMO_ADMIN_KEY). Unset: admin API off.
    admin_key: SecretStr | None = Field(None, validation_alias=AliasChoices("LEMO_ADMIN_KEY", "admin_key"))
    # Seconds a resolved API key is trusted before it is looked up again (so revocation takes this long).
    key_cache_ttl_s: float = 30.0
    # The apps behind the gateway, by Dapr app id.
    catalog_app: str = "catalog"
    events_app: str = "events"
    trainer_app: str = "trainer"
    # The apps /v1/status checks through their sidecars.
    mesh_apps: list[str] = Field(
        default_factory=lambda: ["events", "profiles", "catalog", "recall", "ranking", "rerank", "trainer", "feeds"]
    )
    # The feeds app, which `mode=workflow` asks to run the recommend workflow.
    feeds_app: str = "feeds"
    status_timeout_s: float = 2.0
    # Served lists' exposure records wait at most this long (or until this many are waiting) and go onto the
    # exposures topic in one bulk publish through the gateway's sidecar; 0 sends each list at once.
    exposure_flush_s: float = 0.25
    exposure_flush_lists: int = Field(1000, ge=1)
    downstream_timeout_s: float = 30.0
    # The public gRPC API (DESIGN.md section 9: LEMO_GATEWAY_GRPC_PORT, 50051 by default).
    grpc_port: int = Field(50051, validation_alias=AliasChoices("LEMO_GATEWAY_GRPC_PORT", "grpc_port"))
    # Its listen host: loopback locally; 0.0.0.0 in a pod (k8s/configmap.yaml), where the Service reaches it.
    grpc_host: str = Field("127.0.0.1", validation_alias=AliasChoices("LEMO_GATEWAY_GRPC_HOST", "grpc_host"))
    # Request bodies over this many bytes get 413 (streamed NDJSON bodies are counted as they arrive; gRPC messages
    # get RESOURCE_EXHAUSTED). daprd's default --max-body-size, 4Mi, caps what the gateway can forward anyway.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1)
    # Per tenant API key (token bucket per key id, in each gateway process; HTTP and gRPC share it): sustained
    # requests/s and burst. 0 turns rate limiting off.
    rate_limit_per_s: float = Field(500.0, ge=0)
    rate_limit_burst: int = Field(1000, ge=1)
    dapr_http_port: int = Field(3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "dapr_http_port"))
