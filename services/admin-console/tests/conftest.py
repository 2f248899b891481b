"""The console's browser tests: one shared stack for the session (PostgreSQL, broker, sandbox,
store, gateway, health monitor and console as processes) and one Chromium (Debian's package,
through ``executable_path``). Each test signs in as a fresh organization, so tests share the
stack without sharing state."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import OWNER_ROLE, create_database, drop_database
from hub_localstack.services import ServiceProcess, hub_environment
from hub_localstack.topics import create_topics

from .browser import Stack

CHROMIUM = "chromium"
INSTALL = "apt-get install -y chromium"


def chromium_path() -> str:
    """Debian's Chromium: installed here when missing and root, else one line saying what to
    install (the Playwright browser download cannot work on these machines)."""
    found = shutil.which(CHROMIUM)
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", CHROMIUM], check=False)
        found = shutil.which(CHROMIUM)
    if found is None:
        pytest.exit(f"The console's browser tests need Chromium: run `{INSTALL}` as root.", 2)
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {"executable_path": chromium_path(), "args": ["--no-sandbox", "--disable-gpu"]}


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    # axe-core is injected as a script: the page's CSP (script-src 'self') would refuse it.
    # test_security checks the CSP header itself.
    return {"bypass_csp": True, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def stack(
    postgres_server: str, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = f"console_{uuid.uuid4().hex[:12]}"
    database_url = create_database(postgres_server, name, owner=OWNER_ROLE)
    logs = tmp_path_factory.mktemp("console-logs")
    try:
        with TansuBroker(logs / "tansu.log") as broker:
            # Playwright's sync API runs a loop in this thread: create the topics in another.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, create_topics(broker.bootstrap_servers)).result()
            env = hub_environment(
                database_url,
                broker.bootstrap_servers,
                sandbox_url,
                tmp_path_factory.mktemp("console-state"),
            )
            console = ServiceProcess(
                "admin-console",
                "admin_console",
                {**env, "HUB_ENVIRONMENT": "development"},
                port_variable="ADMIN_CONSOLE_PORT",
                log_dir=logs,
            )
            origin = console.url
            store = ServiceProcess(
                "connection-store",
                "connection_store",
                {**env, "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3"},
                port_variable="CONNECTION_STORE_PORT",
                log_dir=logs,
            )
            gateway = ServiceProcess(
                "oauth-gateway",
                "oauth_gateway",
                {
                    **env,
                    "OAUTH_GATEWAY_RETURN_ORIGINS": origin,
                    "OAUTH_GATEWAY_DEFAULT_RETURN_URL": f"{origin}/admin/settings/integrations",
                },
                port_variable="OAUTH_GATEWAY_PORT",
                log_dir=logs,
            )
            monitor = ServiceProcess(
                "health-monitor",
                "health_monitor",
                {**env, "HEALTH_MONITOR_RETRY_BASE_DELAY_S": "0.05"},
                port_variable="HEALTH_MONITOR_PORT",
                log_dir=logs,
            )
            console.env.update(
                ADMIN_CONSOLE_STORE_URL=store.url, ADMIN_CONSOLE_GATEWAY_URL=gateway.url
            )
            # Pickers: the store checks a picked setting with the gateway's listing, which
            # reads the stored credential from the store.
            store.env.update(CONNECTION_STORE_GATEWAY_URL=gateway.url)
            gateway.env.update(OAUTH_GATEWAY_STORE_URL=store.url)
            with store, gateway, monitor, console:
                yield Stack(console.url, store.url, gateway.url, sandbox_url, env, logs)
    finally:
        drop_database(postgres_server, name)


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def signed_in(page: Any, stack: Stack, org: uuid.UUID) -> Any:
    """The browser page, signed in as an admin of a fresh organization (on the hub)."""
    page.goto(f"{stack.console}/dev/sign-in?org={org}")
    return page
