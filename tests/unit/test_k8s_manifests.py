"""k8s/ validated offline: Kubernetes objects against the Kubernetes JSON schemas (kubernetes-validate), Dapr objects
against the CRD schemas in the Dapr Go module the runtime is built from, and the rules that tie the manifests to the
code (app ids, ports, component names, actor types, deadlines, secrets). No cluster is needed or contacted."""

from __future__ import annotations

import copy
import importlib
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KUBERNETES_VERSION = "1.33"
SECRETS_TEMPLATE = K8S / "secrets.example.yaml"
APP_IDS = sorted(p.parent.name for p in (ROOT / "apps").glob("*/main.py"))
# Environment variables the manifests may set that are not settings fields.
NOT_SETTINGS = {"PYTHONUNBUFFERED", "HF_HUB_OFFLINE", "DAPR_API_TOKEN", "APP_API_TOKEN"}
SECRET_NAME = re.compile(r"password|passwd|secret|token|credential|api_?key|admin_?key|access_?key|mongodb_uri", re.I)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")

Doc = dict[str, Any]


def _docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
INSTALLED = [(K8S / r, d) for r in KUSTOMIZATION["resources"] for d in _docs(K8S / r)]
TEMPLATES = [(SECRETS_TEMPLATE, d) for d in _docs(SECRETS_TEMPLATE)]


def _id(item: tuple[Path, Doc]) -> str:
    path, doc = item
    return f"{path.relative_to(K8S)}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def _of(kind: str) -> list[Doc]:
    return [d for _, d in INSTALLED if d["kind"] == kind]


def _one(kind: str, name: str) -> Doc:
    [doc] = [d for d in _of(kind) if d["metadata"]["name"] == name]
    return doc


def _meta(component: Doc) -> dict[str, Any]:
    return {m["name"]: m.get("value", m.get("secretKeyRef")) for m in component["spec"]["metadata"]}


# --- where the Dapr CRDs come from ---------------------------------------------------------------------------------


def _dapr_version() -> str:
    match = re.search(r'DAPR_VERSION="\$\{DAPR_VERSION:-([0-9.]+)\}"', (ROOT / "scripts/common.sh").read_text())
    assert match, "scripts/common.sh no longer sets DAPR_VERSION"
    return match.group(1)


@cache
def dapr_module_dir() -> Path:
    roots = [os.environ.get("GOMODCACHE", "")]
    if go := shutil.which("go"):
        roots.append(subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip())
    roots.append(str(Path.home() / "go/pkg/mod"))
    want = _dapr_version()
    minor = ".".join(want.split(".")[:2])
    for root in filter(None, roots):
        found = sorted((Path(root) / "github.com/dapr").glob(f"dapr@v{minor}.*"))
        exact = [p for p in found if p.name == f"dapr@v{want}"]
        if (exact or found) and (crds := (exact or found)[-1]) and (crds / "charts/dapr/crds").is_dir():
            return crds
    pytest.fail(
        f"the Dapr Go module (github.com/dapr/dapr@v{minor}.*) is not in the Go module cache ({roots}); its CRDs are "
        "what the Dapr manifests are checked against. Run `make` (or scripts/install-dapr.sh) to download it."
    )


def _strict(schema: Any) -> Any:
    """What `kubectl apply` (field validation Strict) does: a field the schema does not name is an error."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            if not schema.get("x-kubernetes-preserve-unknown-fields"):
                schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(v) for v in schema]
    return schema


@cache
def dapr_schemas() -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> strict openAPIV3Schema for every served version of every Dapr CRD."""
    schemas = {}
    for path in sorted((dapr_module_dir() / "charts/dapr/crds").glob("*.yaml")):
        for crd in _docs(path):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    key = (f"{group}/{version['name']}", kind)
                    schemas[key] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def schema_errors(doc: Doc) -> list[str]:
    """Every way `doc` breaks its schema; empty when it is valid."""
    if not doc.get("metadata", {}).get("name"):
        return ["metadata.name is missing"]
    if doc["apiVersion"].startswith("dapr.io/"):
        schema = dapr_schemas().get((doc["apiVersion"], doc["kind"]))
        if schema is None:
            return [f"no Dapr CRD serves {doc['apiVersion']} {doc['kind']}"]
        validator = jsonschema.Draft7Validator(schema)
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]
    return []


# --- every manifest against its schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("item", INSTALLED + TEMPLATES, ids=_id)
def test_manifest_is_valid(item: tuple[Path, Doc]) -> None:
    assert schema_errors(item[1]) == []


def _deployment() -> Doc:
    return copy.deepcopy(_one("Deployment", "gateway"))


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["spec"].update(replica=2),  # a misspelt field
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="eighty"),
        lambda d: d["spec"].pop("selector"),
        lambda d: d.update(kind="Deploymant"),
    ],
    ids=["unknown-field", "wrong-type", "missing-required", "unknown-kind"],
)
def test_a_broken_kubernetes_object_is_rejected(break_it: Any) -> None:
    doc = _deployment()
    break_it(doc)
    assert schema_errors(doc) != []


@pytest.mark.parametrize(
    "doc",
    [
        {**_one("Component", "statestore"), "spec": {"type": "state.redis", "metadata": []}},  # no version
        {**_one("Component", "statestore"), "spec": {**_one("Component", "statestore")["spec"], "scope": ["x"]}},
        {**_one("Resiliency", "lemo"), "spec": {"policies": {}}},  # no targets
        {**_one("Configuration", "lemo"), "spec": {"tracing": {"samplingRate": 0.5}}},  # a number, not a string
        {"apiVersion": "dapr.io/v2alpha1", "kind": "Subscription", "metadata": {"name": "s"}, "spec": {"routes": "x"}},
        {"apiVersion": "dapr.io/v9", "kind": "Component", "metadata": {"name": "c"}, "spec": {}},
    ],
    ids=["component-no-version", "component-unknown-field", "resiliency-no-targets", "config-wrong-type",
         "subscription-wrong-type", "unserved-version"],
)  # fmt: skip
def test_a_broken_dapr_object_is_rejected(doc: Doc) -> None:
    assert schema_errors(doc) != []


def test_a_valid_subscription_passes_so_the_subscription_schema_is_loaded() -> None:
    sub = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": "events"},
        "spec": {"pubsubname": "pubsub", "topic": "events", "routes": {"default": "/events/pubsub/events"}},
    }
    assert schema_errors(sub) == []


# --- the layout ------------------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_but_the_secrets_template() -> None:
    on_disk = {p.relative_to(K8S).as_posix() for p in K8S.rglob("*.y*ml")}
    assert on_disk - set(KUSTOMIZATION["resources"]) == {"kustomization.yaml", SECRETS_TEMPLATE.name}
    assert KUSTOMIZATION["namespace"] == "lemo"
    assert [d["metadata"]["name"] for d in _of("Namespace")] == ["lemo"]
    assert [d for _, d in INSTALLED if d["kind"] == "Secret"] == [], "apply -k would overwrite the real Secrets"


# --- apps ----------------------------------------------------------------------------------------------------------


def _annotations(deployment: Doc) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["annotations"]


def _container(deployment: Doc) -> Doc:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_every_app_folder_has_a_deployment_with_its_app_id_port_and_protocol() -> None:
    run = {a["appID"]: a for a in yaml.safe_load((ROOT / "dapr.yaml").read_text())["apps"]}
    by_app_id = {_annotations(d)["dapr.io/app-id"]: d for d in _of("Deployment")}
    assert sorted(by_app_id) == APP_IDS
    for app_id, deployment in by_app_id.items():
        a = _annotations(deployment)
        assert deployment["metadata"]["name"] == app_id
        assert a["dapr.io/app-port"] == str(run[app_id]["appPort"]), app_id
        assert a["dapr.io/app-protocol"] == run[app_id].get("appProtocol", "http"), app_id
        ports = {p["name"]: p["containerPort"] for p in _container(deployment)["ports"]}
        assert ports["app"] == run[app_id]["appPort"], app_id


SIDECAR_ANNOTATIONS = [
    *(f"dapr.io/sidecar-{r}-{k}" for r in ("cpu", "memory") for k in ("request", "limit")),
    "dapr.io/metrics-port",
    "dapr.io/enable-api-logging",
    "dapr.io/app-token-secret",
    "dapr.io/api-token-secret",
]


@pytest.mark.parametrize("app_id", APP_IDS)
def test_deployment_runs_a_healthy_well_behaved_sidecar(app_id: str) -> None:
    deployment = _one("Deployment", app_id)
    a, pod, container = _annotations(deployment), deployment["spec"]["template"]["spec"], _container(deployment)
    assert [a.get(k) for k in ("dapr.io/enabled", "dapr.io/enable-metrics", "dapr.io/enable-app-health-check")] == [
        "true"
    ] * 3
    assert a["dapr.io/config"] in {d["metadata"]["name"] for d in _of("Configuration")}
    assert all(a.get(k) for k in SIDECAR_ANNOTATIONS)
    assert pod["terminationGracePeriodSeconds"] > int(a["dapr.io/graceful-shutdown-seconds"])
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys() & container["resources"]["limits"].keys()
    for probe in ("livenessProbe", "readinessProbe"):
        if a["dapr.io/app-protocol"] == "http":
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "app"}, probe
        else:  # the gRPC app has no HTTP /healthz; its health check is Dapr's gRPC one
            assert container[probe]["tcpSocket"] == {"port": "app"}, probe
    if a["dapr.io/app-protocol"] == "http":
        assert a["dapr.io/app-health-check-path"] == "/healthz"
    template_secrets = {d["metadata"]["name"]: d["stringData"] for _, d in TEMPLATES}
    for key in ("dapr.io/app-token-secret", "dapr.io/api-token-secret"):
        assert "token" in template_secrets[a[key]], "the injector reads the key `token`"


def test_dapr_annotations_are_ones_the_injector_knows() -> None:
    source = (dapr_module_dir() / "pkg/injector/annotations/annotations.go").read_text()
    known = set(re.findall(r'"(dapr\.io/[a-z0-9-]+)"', source))
    used = {k for d in _of("Deployment") for k in _annotations(d) if k.startswith("dapr.io/")}
    assert used - known == set()


def test_services_and_autoscalers_point_at_the_deployments() -> None:
    from apps.gateway.settings import GatewaySettings

    deployments = {d["metadata"]["name"]: d for d in _of("Deployment")}
    assert sorted(s["metadata"]["name"] for s in _of("Service")) == sorted(deployments)
    for service in _of("Service"):
        deployment = deployments[service["metadata"]["name"]]
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        port_names = {p["name"] for p in _container(deployment)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    gateway_ports = {p["port"] for p in _one("Service", "gateway")["spec"]["ports"]}
    assert GatewaySettings.model_fields["grpc_port"].default in gateway_ports  # the public gRPC API

    targets = [h["spec"]["scaleTargetRef"] for h in _of("HorizontalPodAutoscaler")]
    assert sorted(t["name"] for t in targets) == sorted(deployments)
    assert all((t["apiVersion"], t["kind"]) == ("apps/v1", "Deployment") for t in targets)
    for hpa in _of("HorizontalPodAutoscaler"):
        assert hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]


# --- settings ------------------------------------------------------------------------------------------------------


def _settings_classes() -> list[type[BaseSettings]]:
    return [
        cls
        for app_id in APP_IDS
        for cls in vars(importlib.import_module(f"apps.{app_id}.settings")).values()
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls.__module__.startswith(f"apps.{app_id}")
    ]


def _env_names(cls: type[BaseSettings]) -> set[str]:
    names = set()
    for field_name, field in cls.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        if choices:
            names |= {c.upper() for c in choices if isinstance(c, str) and c.isupper()}
        else:
            names.add(f"{cls.model_config.get('env_prefix', '')}{field_name}".upper())
    return names


def _configmap() -> dict[str, str]:
    return _one("ConfigMap", "lemo-config")["data"]


def test_configmap_holds_only_settings_the_apps_read_and_they_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    known = set().union(*map(_env_names, _settings_classes()))
    assert set(_configmap()) - known - NOT_SETTINGS == set()
    for key, value in _configmap().items():
        monkeypatch.setenv(key, value)
    for cls in _settings_classes():
        cls()  # raises on a value of the wrong type


def test_deployments_get_settings_from_the_configmap_and_secrets_by_reference() -> None:
    known = set().union(*map(_env_names, _settings_classes())) | NOT_SETTINGS
    assert "LEMO_MONGODB_URI" in known and "LEMO_MONGODB_URI" not in _configmap()
    for deployment in _of("Deployment"):
        container = _container(deployment)
        assert {"configMapRef": {"name": "lemo-config"}} in container["envFrom"]
        env = {e["name"]: e for e in container["env"]}
        assert set(env) <= known
        assert "secretKeyRef" in env["LEMO_MONGODB_URI"]["valueFrom"]


def _walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _walk_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _walk_strings(v)]
    return [node] if isinstance(node, str) else []


def test_no_manifest_holds_a_secret_value() -> None:
    for _, doc in INSTALLED + TEMPLATES:
        assert not [s for s in _walk_strings(doc) if CREDENTIALS_IN_URL.search(s)], _id((K8S, doc))
    for _, secret in TEMPLATES:
        assert set((secret.get("stringData") or {}).values()) <= {""} and not secret.get("data")
    assert not [k for k in _configmap() if SECRET_NAME.search(k)]
    for deployment in _of("Deployment"):
        for env in _container(deployment)["env"]:
            if SECRET_NAME.search(env["name"]):
                assert "secretKeyRef" in env.get("valueFrom", {}), env["name"]
    for component in _of("Component"):
        for m in component["spec"]["metadata"]:
            if SECRET_NAME.search(m["name"]):
                assert "secretKeyRef" in m and "value" not in m, (component["metadata"]["name"], m["name"])


# --- Dapr components, resiliency, configuration ----------------------------------------------------------------------


def _local_components() -> dict[str, list[Doc]]:
    found: dict[str, list[Doc]] = {}
    for path in (ROOT / "components").rglob("*.yaml"):
        for doc in _docs(path):
            if doc["kind"] == "Component":
                found.setdefault(doc["metadata"]["name"], []).append(doc)
    return found


def test_components_the_code_uses_exist_under_the_same_names() -> None:
    from apps.shared import settings

    local, k8s = _local_components(), {c["metadata"]["name"]: c for c in _of("Component")}
    for name in (settings.STATE_STORE, settings.PUBSUB, settings.CRON_POPULARITY):
        assert name in local and name in k8s, name
    # Kubernetes gets the production broker: the same type as the local Kafka profile.
    assert k8s[settings.PUBSUB]["spec"]["type"] in {c["spec"]["type"] for c in local[settings.PUBSUB]}
    assert k8s[settings.PUBSUB]["spec"]["type"] == "pubsub.kafka"


def test_state_store_holds_actor_state_and_keys_as_locally() -> None:
    from apps.shared.settings import STATE_STORE

    k8s, [local] = _meta(_one("Component", STATE_STORE)), _local_components()[STATE_STORE]
    assert k8s["actorStateStore"] == "true"
    assert k8s["keyPrefix"] == _meta(local)["keyPrefix"]


def _serves_route(app_id: str, binding: str) -> bool:
    """Whether the app declares the route Dapr posts a binding's events to (/<binding name>), read from its source
    (importing the app would pull in all of its dependencies)."""
    from apps.shared import settings

    spellings = {f'"/{binding}"'} | {f'f"/{{{k}}}"' for k, v in vars(settings).items() if k.isupper() and v == binding}
    return any(s in p.read_text() for p in (ROOT / "apps" / app_id).glob("*.py") for s in spellings)


def test_cron_bindings_match_the_local_ones() -> None:
    local_crons = {n: cs[0] for n, cs in _local_components().items() if cs[0]["spec"]["type"] == "bindings.cron"}
    k8s_crons = {c["metadata"]["name"] for c in _of("Component") if c["spec"]["type"] == "bindings.cron"}
    assert local_crons and set(local_crons) == k8s_crons
    for name, local in local_crons.items():
        k8s = _one("Component", name)
        assert (k8s["spec"]["type"], _meta(k8s), k8s["scopes"]) == ("bindings.cron", _meta(local), local["scopes"])
        assert set(k8s["scopes"]) <= set(APP_IDS)
        assert all(_serves_route(app_id, name) for app_id in k8s["scopes"]), name


def _seconds(duration: str) -> float:
    part, units = r"(\d+(?:\.\d+)?)(ms|h|m|s)", {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    assert re.fullmatch(f"(?:{part})+", duration), f"not a Go duration: {duration}"
    return sum(float(n) * units[u] for n, u in re.findall(part, duration))


def test_resiliency_targets_name_existing_apps_actors_components_and_policies() -> None:
    from actors import item_popularity, user_profile
    from apps.gateway.settings import GatewaySettings

    spec = _one("Resiliency", "lemo")["spec"]
    apps, actors, components = (spec["targets"][k] for k in ("apps", "actors", "components"))
    gateway = GatewaySettings()
    called_by_gateway = {gateway.catalog_app, gateway.profiles_app, gateway.events_app, *gateway.mesh_apps}
    assert called_by_gateway <= set(apps) <= set(APP_IDS)
    assert set(actors) == {user_profile.ACTOR_TYPE, item_popularity.ACTOR_TYPE}
    assert set(components) <= {c["metadata"]["name"] for c in _of("Component")}
    policies = spec["policies"]
    rules = [*apps.values(), *actors.values(), *(r for c in components.values() for r in c.values())]
    for rule in rules:
        for kind, section in (("timeout", "timeouts"), ("retry", "retries"), ("circuitBreaker", "circuitBreakers")):
            assert kind not in rule or rule[kind] in policies[section], rule
    for timeout in policies["timeouts"].values():
        _seconds(timeout)


def test_resiliency_timeouts_match_the_apps_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.events.settings import EventsSettings
    from apps.gateway.settings import GatewaySettings
    from apps.shared.settings import PUBSUB, STATE_STORE

    for key, value in _configmap().items():
        monkeypatch.setenv(key, value)
    spec = _one("Resiliency", "lemo")["spec"]
    timeout = {name: _seconds(d) for name, d in spec["policies"]["timeouts"].items()}
    downstream = GatewaySettings().downstream_timeout_s
    for app_id, rule in spec["targets"]["apps"].items():
        assert timeout[rule["timeout"]] == downstream, app_id
    components = spec["targets"]["components"]
    assert timeout[components[PUBSUB]["outbound"]["timeout"]] == EventsSettings().publish_timeout_s
    # Actor and state calls happen inside a downstream call: they must give up well before it does.
    inner = [timeout[r["timeout"]] for r in spec["targets"]["actors"].values()]
    inner.append(timeout[components[STATE_STORE]["outbound"]["timeout"]])
    assert max(inner) < downstream


def test_configuration_keeps_the_local_settings_and_adds_tracing_and_mtls() -> None:
    local = yaml.safe_load((ROOT / "components/configuration/lemo.yaml").read_text())
    k8s = _one("Configuration", local["metadata"]["name"])["spec"]
    assert local["spec"].keys() <= k8s.keys()
    assert k8s["metric"] == local["spec"]["metric"]
    assert all(feature in k8s.get("features", []) for feature in local["spec"].get("features", []))
    assert 0 < float(k8s["tracing"]["samplingRate"]) <= 1
    assert k8s["tracing"].get("otel") or k8s["tracing"].get("zipkin")
    assert k8s["mtls"]["enabled"] is True


def test_local_runs_retry_deliveries_as_kubernetes_does() -> None:
    """Without an inbound retry policy a delivery that fails (an entry answered RETRY, an app that just died) goes
    straight to the dead letter; locally and on Kubernetes it is retried first, with the same policy."""
    from apps.shared.settings import PUBSUB

    [local] = [d for d in _docs(ROOT / "components" / "resiliency.yaml") if d["kind"] == "Resiliency"]
    k8s = _one("Resiliency", "lemo")["spec"]
    local_rule = local["spec"]["targets"]["components"][PUBSUB]["inbound"]
    k8s_rule = k8s["targets"]["components"][PUBSUB]["inbound"]
    assert local_rule == k8s_rule
    for kind, section in (("retry", "retries"), ("timeout", "timeouts")):
        assert local["spec"]["policies"][section][local_rule[kind]] == k8s["policies"][section][k8s_rule[kind]]
    retry = local["spec"]["policies"]["retries"][local_rule["retry"]]
    # Long enough to cover an app restart: at least a minute of backoff before anything is dead-lettered.
    waits = [min(0.5 * 2**n, _seconds(retry["maxInterval"])) for n in range(int(retry["maxRetries"]))]
    assert sum(waits) >= 60


# daprd's app channel is Go's default transport: an idle connection into the app is dropped after 90 s.
DAPRD_IDLE_CONN_S = 90


def test_apps_keep_idle_connections_longer_than_their_sidecars() -> None:
    """An app server that closes an idle connection first races the sidecar reusing it ("connection reset by
    peer" on a delivery or an actor turn): every uvicorn app, locally and on Kubernetes, waits longer."""
    run = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    assert float(run["common"]["env"]["UVICORN_TIMEOUT_KEEP_ALIVE"]) > DAPRD_IDLE_CONN_S
    for deployment in _of("Deployment"):
        command = _container(deployment)["command"]
        if "uvicorn" in command[0]:
            keep_alive = command[command.index("--timeout-keep-alive") + 1]
            assert float(keep_alive) > DAPRD_IDLE_CONN_S, deployment["metadata"]["name"]
