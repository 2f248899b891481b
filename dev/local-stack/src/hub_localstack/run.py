"""`hub-stack run`: the whole system on one machine, for `make run`.

Starts the stack, derives the development environment every service needs (stack endpoints,
consumer tuning for the local broker, the sandbox as every provider, the sandbox's platform
credentials, a development encryption key kept under .local), then runs the Procfile's processes
with honcho until Ctrl-C, and stops everything in reverse order. A variable already set in the
caller's environment always wins.
"""

import base64
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub_catalog import load_catalog
from hub_keyring import new_submission_key_spec
from provider_sandbox import example_value, platform_environment, shared_account_environment

from hub_localstack.stack import Endpoints, LocalStack


@dataclass(frozen=True)
class Service:
    port_variable: str
    default_port: int
    health_path: str = "/healthz"

    def port(self, env: Mapping[str, str]) -> int:
        return int(env.get(self.port_variable, self.default_port))


SERVICES = {
    "admin-console": Service("ADMIN_CONSOLE_PORT", 8100),
    "oauth-gateway": Service("OAUTH_GATEWAY_PORT", 8101),
    "connection-store": Service("CONNECTION_STORE_PORT", 8102),
    "token-refresher": Service("TOKEN_REFRESHER_PORT", 8103),
    "health-monitor": Service("HEALTH_MONITOR_PORT", 8104),
    "notifier": Service("NOTIFIER_PORT", 8105),
    "provider-sandbox": Service("SANDBOX_PORT", 8199, "/_sandbox/health"),
}


def development_key(state_dir: Path) -> str:
    """A CREDENTIAL_KEYS value kept under .local, so local data stays readable across runs."""
    path = state_dir / "dev-credential-keys"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        path.write_text(f"dev1:{key}\n")
        path.chmod(0o600)
    return path.read_text().strip()


def development_submission_key(state_dir: Path) -> str:
    """An OAUTH_GATEWAY_SUBMISSION_KEYS value kept under .local, so what a local onboarding
    sealed before a restart still opens."""
    path = state_dir / "dev-submission-keys"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(new_submission_key_spec("devs1") + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def sandbox_platform_credentials() -> dict[str, str]:
    """Every provider's platform credential and shared account, as the sandbox accepts them."""
    catalog = load_catalog()
    return platform_environment(catalog) | shared_account_environment(catalog)


SANDBOX_SLACK_WEBHOOK = "https://hooks.slack.com/services/TLOCALHUB/BSANDBOX/sandboxwebhook"
"""The platform Slack webhook of `make run`: a webhook URL the catalog routes to the sandbox."""


def run_extras(state_dir: Path, *, terminal: bool = False) -> dict[str, str]:
    """What `make run` adds for a person trying it: spans to a local file (``hubctl trace``),
    the notifier's platform channels pointed at the sandbox, so every email and Slack message a
    brand would get shows at ``/_sandbox/resend/actions`` and ``/_sandbox/slack/actions``, and on
    a terminal one coloured line per log record (the services' output goes through honcho, so
    they cannot see the terminal themselves)."""
    resend = load_catalog().get("resend")
    return {
        **({"LOG_FORMAT": "console"} if terminal else {}),
        "OTEL_TRACES_FILE": str(state_dir / "traces.jsonl"),
        "NOTIFIER_RESEND_API_KEY": example_value(resend.auth.fields[0]),
        "NOTIFIER_SLACK_WEBHOOK_URL": SANDBOX_SLACK_WEBHOOK,
    }


def development_environment(
    endpoints: Endpoints, state_dir: Path, inherited: Mapping[str, str]
) -> dict[str, str]:
    sandbox_port = SERVICES["provider-sandbox"].port(inherited)
    console_port = SERVICES["admin-console"].port(inherited)
    console = f"http://127.0.0.1:{console_port}"
    defaults = {
        **sandbox_platform_credentials(),
        "HUB_ENVIRONMENT": "development",
        "DATABASE_URL": endpoints.database_url,
        **(
            {"DATABASE_MIGRATION_URL": endpoints.migration_database_url}
            if endpoints.migration_database_url
            else {}
        ),
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap_servers,
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "KAFKA_FETCH_MAX_WAIT_MS": "10",
        "PROVIDER_BASE_URL_OVERRIDE": f"http://127.0.0.1:{sandbox_port}",
        "CREDENTIAL_KEYS": development_key(state_dir),
        "OAUTH_GATEWAY_SUBMISSION_KEYS": development_submission_key(state_dir),
        # The console calls the store and gateway; OAuth flows return to the console.
        "ADMIN_CONSOLE_STORE_URL": f"http://127.0.0.1:{SERVICES['connection-store'].port(inherited)}",
        "ADMIN_CONSOLE_GATEWAY_URL": f"http://127.0.0.1:{SERVICES['oauth-gateway'].port(inherited)}",
        "OAUTH_GATEWAY_RETURN_ORIGINS": f"{console},http://localhost:{console_port}",
        "OAUTH_GATEWAY_DEFAULT_RETURN_URL": f"{console}/admin/settings/integrations",
    }
    return {**defaults, **inherited}


def procfile_names(procfile: Path) -> list[str]:
    names = []
    for line in procfile.read_text().splitlines():
        name, sep, _ = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            names.append(name.strip())
    return names


def run(stack: LocalStack, procfile: Path) -> int:
    endpoints = stack.start()
    try:
        state_dir = stack.settings.state_dir
        extras = run_extras(state_dir, terminal=sys.stdout.isatty())
        env = {**extras, **development_environment(endpoints, state_dir, os.environ)}
        names = procfile_names(procfile)
        if "admin-console" in names:  # where a person begins: printed before anything else
            console = SERVICES["admin-console"].port(env)
            print(f"admin console: http://127.0.0.1:{console}/  (start here)", flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", str(Path.cwd())],
            env=env,
        )
        print(endpoints.env_text(), end="")
        for name in names:
            if name in SERVICES:
                print(f"{name}: http://127.0.0.1:{SERVICES[name].port(env)}")
        print("everything is starting; Ctrl-C stops it all", flush=True)
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True
            honcho.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            code = honcho.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached honcho too (same process group): let it stop its processes.
            stopping = True
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                honcho.terminate()
                honcho.wait()
            return 0
        return 0 if stopping else code
    finally:
        stack.stop()
