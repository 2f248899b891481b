"""deploy/ is static (no Docker here): these checks keep it true to the code by construction."""

from __future__ import annotations

import base64
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_contracts import ALL_TOPICS, CREDENTIAL_TOPICS, dlq_topic
from hub_localstack.postgres import LOGIN_ROLE, OWNER_ROLE
from hub_localstack.run import SERVICES, procfile_names
from starlette.routing import Match

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET_KEYS = {
    "CREDENTIAL_KEYS",
    "PLATFORM_JWT_SECRET",
    "OAUTH_GATEWAY_STATE_SECRET",
    "OAUTH_GATEWAY_SUBMISSION_KEYS",
    "HUB_SERVICE_TOKEN_SECRET",
    "POSTGRES_PASSWORD",
    "HUB_OWNER_PASSWORD",
    "HUB_LOGIN_PASSWORD",
    "DATABASE_URL",
    "DATABASE_MIGRATION_URL",
}
DATABASE_PASSWORDS = {
    "DATABASE_URL": "HUB_LOGIN_PASSWORD",
    "DATABASE_MIGRATION_URL": "HUB_OWNER_PASSWORD",
}
"""The compose URLs and the password (from .env) of the role each logs in as."""
SETTINGS = {
    "admin-console": ("admin_console", "ConsoleSettings"),
    "oauth-gateway": ("oauth_gateway", "GatewaySettings"),
    "connection-store": ("connection_store", "StoreSettings"),
    "token-refresher": ("token_refresher", "RefresherSettings"),
    "health-monitor": ("health_monitor", "MonitorSettings"),
    "notifier": ("notifier", "NotifierSettings"),
}


def _hub_services() -> list[str]:
    return [n for n in procfile_names(DEPLOY / "local" / "Procfile") if n != "provider-sandbox"]


def _yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(DEPLOY.glob("k8s/**/*.yaml")) for doc in _yaml_docs(path)]


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return compose


def _deployment(name: str) -> dict[str, Any]:
    (found,) = [
        d for d in _k8s_docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    ]
    return found


def _settings_class(service: str) -> Any:
    package, cls = SETTINGS[service]
    return getattr(importlib.import_module(f"{package}.settings"), cls)


@pytest.fixture(scope="module")
def apps(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each service's real FastAPI app (built, never started: no I/O)."""
    key = base64.urlsafe_b64encode(bytes(32)).decode()
    monkeypatch_module.setenv("CREDENTIAL_KEYS", f"test:{key}")
    monkeypatch_module.setenv("HUB_ENVIRONMENT", "test")
    built = {}
    for service, (package, _) in SETTINGS.items():
        app_module = importlib.import_module(f"{package}.app")
        built[service] = app_module.create_app(_settings_class(service)())
    return built


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _serves(app: Any, path: str) -> bool:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "path_params": {}}
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def test_every_yaml_parses() -> None:
    paths = sorted(DEPLOY.glob("**/*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        assert _yaml_docs(path), path


def test_the_services_are_the_procfiles() -> None:
    assert sorted(_hub_services()) == sorted(SETTINGS)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_apps_serve_the_probe_paths(service: str, apps: dict[str, Any]) -> None:
    app = apps[service]
    assert _serves(app, SERVICES[service].health_path)
    assert _serves(app, "/readyz")
    assert not _serves(app, "/no-such-path")


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_compose_service(service: str, apps: dict[str, Any]) -> None:
    spec = _compose()["services"][service]
    package = SETTINGS[service][0]
    settings = _settings_class(service)
    prefix = settings.model_config["env_prefix"]
    port = SERVICES[service].default_port
    env = spec["environment"]
    assert spec["command"] == ["python", "-m", package]
    assert env[f"{prefix}HOST"] == "0.0.0.0"
    assert int(env[f"{prefix}PORT"]) == port
    assert env["HUB_ENVIRONMENT"] == "production"
    assert env["KAFKA_IDEMPOTENT_PRODUCER"] == "true"
    assert env["KAFKA_BOOTSTRAP_SERVERS"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector:4318")
    if "database_url" in settings.model_fields:
        # the production start-up check refuses an owner or superuser login (hub_runtime.login_role)
        assert env["DATABASE_URL"].startswith(f"postgresql://{LOGIN_ROLE}:")
        assert env["DATABASE_MIGRATION_URL"].startswith(f"postgresql://{OWNER_ROLE}:")
        assert "database_migration_url" in settings.model_fields
    else:
        assert not {"DATABASE_URL", "DATABASE_MIGRATION_URL"} & env.keys()
    assert spec["env_file"][0]["path"] == "hub.env"
    assert spec["read_only"] is True
    probe = spec["healthcheck"]["test"][-1]
    (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", probe)
    assert int(url[0]) == port
    assert _serves(apps[service], url[1])
    assert spec["depends_on"]["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_k8s_deployment(service: str, apps: dict[str, Any]) -> None:
    deployment = _deployment(service)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    prefix = _settings_class(service).model_config["env_prefix"]
    port = SERVICES[service].default_port
    env = {e["name"]: e for e in container["env"]}
    assert container["command"] == ["python", "-m", SETTINGS[service][0]]
    assert env[f"{prefix}HOST"]["value"] == "0.0.0.0"
    assert int(env[f"{prefix}PORT"]["value"]) == port
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"]["path"] == SERVICES[service].health_path
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert _serves(apps[service], container[kind]["httpGet"]["path"])
        assert container[kind]["httpGet"]["port"] == "http"
    assert {"requests", "limits"} <= container["resources"].keys()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["enableServiceLinks"] is False  # else kubelet sets <SERVICE>_PORT=tcp://...
    assert {"configMapRef": {"name": "hub-config"}} in container["envFrom"]
    database = {"DATABASE_URL", "DATABASE_MIGRATION_URL"}
    if "database_url" in _settings_class(service).model_fields:
        for name in database:
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "hub-secrets", "key": name}
    else:
        assert not database & env.keys()
    (svc,) = [d for d in _k8s_docs() if d["kind"] == "Service" and d["metadata"]["name"] == service]
    assert svc["spec"]["ports"][0]["port"] == port


def test_k8s_has_a_namespace_and_everything_lives_in_it() -> None:
    docs = _k8s_docs()
    (namespace,) = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
    assert all(
        d["metadata"].get("namespace") == namespace for d in docs if d["kind"] != "Namespace"
    )


def _script_topics() -> dict[str, str]:
    script = (DEPLOY / "kafka" / "create-topics.sh").read_text()
    lines = re.findall(r"^create (\S+) (bounded|default)$", script, flags=re.MULTILINE)
    topics = dict(lines)
    assert len(topics) == len(lines), "a topic is created twice"
    return topics


def test_topic_script_creates_exactly_the_contract_topics() -> None:
    topics = _script_topics()
    assert set(topics) == {*ALL_TOPICS, *map(dlq_topic, ALL_TOPICS)}
    bounded = {t for t, retention in topics.items() if retention == "bounded"}
    credential = {str(t) for t in CREDENTIAL_TOPICS}
    assert bounded == credential | {dlq_topic(t) for t in credential}


def test_topic_jobs_run_the_script_with_six_partitions() -> None:
    script = (DEPLOY / "kafka" / "create-topics.sh").read_text()
    (configmap,) = [
        d
        for d in _k8s_docs()
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "hub-topics-script"
    ]
    assert configmap["data"]["create-topics.sh"] == script
    (job,) = [
        d for d in _k8s_docs() if d["kind"] == "Job" and d["metadata"]["name"] == "hub-topics"
    ]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/bin/bash", "/hub/create-topics.sh"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOPIC_PARTITIONS"] == "6"
    topics = _compose()["services"]["topics"]
    assert topics["entrypoint"] == ["/bin/bash", "/hub/create-topics.sh"]
    assert "../kafka/create-topics.sh:/hub/create-topics.sh:ro" in topics["volumes"]
    assert topics["environment"]["TOPIC_PARTITIONS"] == "6"


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_no_manifest_holds_a_secret_value() -> None:
    docs = [*_k8s_docs(), _compose()]
    assert not [d for d in _k8s_docs() if d["kind"] == "Secret"]
    for doc in docs:
        for mapping in _walk(doc):
            for key, value in mapping.items():
                if key in SECRET_KEYS and isinstance(value, str):
                    # compose: only ${...} substitution from the git-ignored .env file
                    assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value) or (
                        key in DATABASE_PASSWORDS
                        and re.fullmatch(
                            rf"postgresql://\w+:\$\{{{DATABASE_PASSWORDS[key]}:\?[^}}]*\}}@[^$]+",
                            value,
                        )
                    ), key
            if "name" in mapping and mapping.get("name") in SECRET_KEYS:
                assert "value" not in mapping, mapping["name"]
                assert mapping["valueFrom"]["secretKeyRef"]["name"] == "hub-secrets"
    for example in sorted((DEPLOY / "compose").glob("*example")):
        for line in example.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#") and name in SECRET_KEYS:
                assert value == "", f"{example.name}: {name} has a value"
    ignored = (DEPLOY / "compose" / ".gitignore").read_text().split()
    assert {".env", "hub.env"} <= set(ignored)


def test_dockerfile_pins_the_makefiles_uv_and_runs_unprivileged() -> None:
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert f"ARG UV_VERSION={uv_version}\n" in dockerfile
    assert 'pip install "uv==${UV_VERSION}"' in dockerfile
    assert "uv sync --frozen --all-packages --no-dev" in dockerfile
    assert re.search(
        r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.M
    )
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert not re.search(r"^(ENV|ARG)\s.*(SECRET|CREDENTIAL_KEYS|PASSWORD)", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".tools", ".local", ".git"} <= set(ignored)


def test_collector_receives_otlp_http_and_batches() -> None:
    config = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert "batch" in pipeline["processors"]
    assert "debug" in pipeline["exporters"]
