"""The ``hubctl`` commands (Typer): thin wrappers that print what the modules beside this one
find. Every command's ``--help`` ends with an example."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hubctl import catalog as catalog_module
from hubctl import connections as connections_module
from hubctl import dlq as dlq_module
from hubctl import doctor as doctor_module
from hubctl import keys as keys_module
from hubctl import lag as lag_module
from hubctl import tokens
from hubctl import traces as traces_module

T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    help="Operate the integrations hub: connections, keys, DLQs, catalog, tokens, doctor, traces.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
connections = typer.Typer(help="One organization's connections (never a secret).")
keys = typer.Typer(
    help="Credential encryption keys: a new key, re-encrypt under the newest; submission keys."
)
dlq = typer.Typer(help="Dead-letter topics: list, show, replay.")
catalog = typer.Typer(help="The provider catalog: validate, show.")
app.add_typer(connections, name="connections", no_args_is_help=True)
app.add_typer(keys, name="keys", no_args_is_help=True)
app.add_typer(dlq, name="dlq", no_args_is_help=True)
app.add_typer(catalog, name="catalog", no_args_is_help=True)


def _example(*lines: str) -> str:
    return "[bold]Example[/bold]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


def _run(work: Awaitable[T]) -> T:
    return asyncio.run(work)  # type: ignore[arg-type]


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        delta = value - datetime.now(UTC)
        seconds = int(delta.total_seconds())
        rel = f"in {_span(seconds)}" if seconds >= 0 else f"{_span(-seconds)} ago"
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z ({rel})"
    return str(value)


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ---------------------------------------------------------------- connections


@connections.command(
    "list", epilog=_example("hubctl connections list 3f1c2b6e-8a4d-4f0e-9c1a-2b3c4d5e6f70")
)
def connections_list(org: Annotated[uuid.UUID, typer.Argument(help="organization id")]) -> None:
    """Every connection of ORG: provider, status, last error, next refresh and check."""
    rows = _run(connections_module.list_connections(org))
    table = Table(title=f"connections of {org}")
    for column in ("provider", "status", "error", "next refresh", "next check", "updated"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["provider"],
            row["status"],
            row["last_error_code"] or "",
            _when(row["next_refresh_at"]),
            _when(row["next_check_at"]),
            _when(row["updated_at"]),
        )
    out.print(table)
    if not rows:
        err.print(f"{org} has no connections")


@connections.command(
    "show",
    epilog=_example("hubctl connections show 3f1c2b6e-8a4d-4f0e-9c1a-2b3c4d5e6f70 slack"),
)
def connections_show(
    org: Annotated[uuid.UUID, typer.Argument(help="organization id")],
    provider: Annotated[str, typer.Argument(help="provider id, e.g. slack")],
    history: Annotated[int, typer.Option(help="how many events to show")] = 20,
) -> None:
    """One connection of ORG: its state, its history (the events the store published) and
    when it is next due."""
    row, entries = _run(connections_module.show_connection(org, provider, history=history))
    if row is None:
        err.print(f"{org} has never connected {provider}")
        raise typer.Exit(1)
    table = Table(title=f"{provider} of {org}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in row.items():
        shown = ", ".join(value) if isinstance(value, list) else _when(value)
        table.add_row(name, shown)
    out.print(table)
    events = Table(title="history (newest first)")
    for column in ("at", "event", "summary", "published"):
        events.add_column(column)
    for entry in entries:
        events.add_row(
            _when(entry.at), entry.kind, entry.summary, "yes" if entry.published else "pending"
        )
    out.print(events)


# ---------------------------------------------------------------- keys


@keys.command("new", epilog=_example("hubctl keys new", "hubctl keys new k2027q1"))
def keys_new(
    key_id: Annotated[
        str | None, typer.Argument(help="the new key's id (default: k<UTC time>)")
    ] = None,
) -> None:
    """Print a fresh CREDENTIAL_KEYS entry. Rotation: put it FIRST in CREDENTIAL_KEYS (keep the
    old ones after it), restart the services, then run `hubctl keys reencrypt`; drop an old key
    only once `hubctl keys reencrypt --dry-run` shows nothing under it."""
    from hub_keyring.keyring import new_key_spec

    out.print(new_key_spec(key_id or datetime.now(UTC).strftime("k%Y%m%d%H%M")))
    err.print("put it first in CREDENTIAL_KEYS, restart, then: hubctl keys reencrypt")


@keys.command(
    "submission-key",
    epilog=_example("hubctl keys submission-key", "hubctl keys submission-key s2027q1"),
)
def keys_submission_key(
    key_id: Annotated[
        str | None, typer.Argument(help="the new key's id (default: s<UTC time>)")
    ] = None,
) -> None:
    """Print a fresh OAUTH_GATEWAY_SUBMISSION_KEYS entry (an X25519 private key). Rotation: put
    it FIRST (keep the old ones after it) and restart the gateway: /v1/submission-keys then lists
    it first and publishers seal to it; drop an old key once nothing sealed to it can still be in
    flight (the topic's retention)."""
    from hub_keyring import new_submission_key_spec

    out.print(new_submission_key_spec(key_id or datetime.now(UTC).strftime("s%Y%m%d%H%M")))
    err.print("put it first in OAUTH_GATEWAY_SUBMISSION_KEYS and restart the oauth-gateway")


@keys.command(
    "reencrypt",
    epilog=_example("hubctl keys reencrypt --dry-run", "hubctl keys reencrypt --batch-size 500"),
)
def keys_reencrypt(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, change nothing")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 200,
    max_rows: Annotated[
        int | None, typer.Option(min=1, help="stop after this many rows (resume later)")
    ] = None,
) -> None:
    """Move every stored credential to the newest key of CREDENTIAL_KEYS, with a progress bar.
    Idempotent and resumable: stop it anywhere, run it again, it finishes the rest."""
    plan = _run(keys_module.plan())
    by_key = ", ".join(f"{k}: {n}" for k, n in plan.ciphertexts_by_key.items()) or "none"
    out.print(f"newest key {plan.active_key_id}; ciphertexts by key: {by_key}")
    for service, tables in plan.tables.items():
        for table, tally in tables.items():
            out.print(f"  {service} {table}: {tally.rows} rows hold an older key")
    out.print(f"{plan.rows_pending} rows hold an older key")
    if dry_run or plan.rows_pending == 0:
        return
    total = min(plan.rows_pending, max_rows) if max_rows else plan.rows_pending
    with Progress(
        TextColumn("re-encrypting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("rows", total=total)
        done = _run(
            keys_module.reencrypt(
                batch_size=batch_size,
                max_rows=max_rows,
                advance=lambda rows: progress.advance(task, rows),
            )
        )
    out.print(f"re-encrypted {done.ciphertexts} ciphertexts in {done.rows} rows")


# ---------------------------------------------------------------- lag


@app.command("lag", epilog=_example("hubctl lag"))
def lag() -> None:
    """Records each consumer group has not consumed yet, per topic. During a key rotation, drop
    the old key only once this shows 0 everywhere (events in flight carry the old key)."""
    lag = _run(lag_module.consumer_lag())
    table = Table(title="consumer lag")
    for column in ("service", "group", "topic", "lag"):
        table.add_column(column)
    for (service, group, topic), value in lag.readings.items():
        table.add_row(service, group, topic, f"{value:g}")
    out.print(table)
    for name in lag.unreachable:
        out.print(f"{name}: unreachable, its lag is unknown")
    if lag.unreachable:
        raise typer.Exit(1)
    out.print(f"total lag {lag.total:g}")


# ---------------------------------------------------------------- dlq


def _select(records: list[dlq_module.DeadLetter], offsets: list[str]) -> list[Any]:
    wanted = set()
    for text in offsets:
        partition, sep, offset = text.partition(":")
        wanted.add((int(partition), int(offset)) if sep else (0, int(partition)))
    return [r for r in records if (r.partition, r.offset) in wanted]


@dlq.command("list", epilog=_example("hubctl dlq list connection.established"))
def dlq_list(topic: Annotated[str, typer.Argument(help="a topic or its .dlq")]) -> None:
    """The records of TOPIC's dead-letter topic: where, when, why, from which consumer."""
    records = _run(dlq_module.list_dead_letters(topic))
    table = Table(title=dlq_module.dead_letter_topic(topic))
    for column in ("partition:offset", "at", "reason", "source", "group", "event"):
        table.add_column(column)
    for r in records:
        table.add_row(
            f"{r.partition}:{r.offset}",
            _when(r.timestamp),
            r.reason,
            f"{r.source_topic}@{r.headers.get('dlq-source-partition')}:"
            f"{r.headers.get('dlq-source-offset')}",
            r.headers.get("dlq-consumer-group", ""),
            r.headers.get("event-type", ""),
        )
    out.print(table)
    err.print(f"{len(records)} records")


@dlq.command("show", epilog=_example("hubctl dlq show connection.established 0:12"))
def dlq_show(
    topic: Annotated[str, typer.Argument(help="a topic or its .dlq")],
    offset: Annotated[str, typer.Argument(help="[PARTITION:]OFFSET")],
) -> None:
    """One dead-lettered record: its headers (the reason, the error) and its body."""
    from hub_runtime import redact_text

    chosen = _select(_run(dlq_module.list_dead_letters(topic)), [offset])
    if not chosen:
        err.print(f"no record {offset} in {dlq_module.dead_letter_topic(topic)}")
        raise typer.Exit(1)
    record = chosen[0]
    for name, value in sorted(record.headers.items()):
        out.print(f"[bold]{name}[/bold]: {redact_text(value)}")
    text = record.value.decode("utf-8", "replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2)
    out.print(redact_text(text), markup=False)


@dlq.command(
    "replay",
    epilog=_example(
        "hubctl dlq replay connection.established 0:12 0:13",
        "hubctl dlq replay connection.established --reason handler_failed",
        "hubctl dlq replay connection.established --all --dry-run",
    ),
)
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="a topic or its .dlq")],
    offsets: Annotated[
        list[str] | None, typer.Argument(help="[PARTITION:]OFFSET of each record")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="every record with this reason")] = None,
    every: Annotated[bool, typer.Option("--all", help="every record")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what, publish nothing")] = False,
) -> None:
    """Publish chosen dead-lettered records again to the topic they came from, with their own
    headers (after the fix). Idempotent: a record already replayed is not published again."""
    records = _run(dlq_module.list_dead_letters(topic))
    if offsets:
        chosen = _select(records, offsets)
    elif reason:
        chosen = [r for r in records if r.reason == reason]
    elif every:
        chosen = records
    else:
        err.print("say which: OFFSET..., --reason REASON or --all")
        raise typer.Exit(2)
    results = _run(dlq_module.replay(chosen, dry_run=dry_run))
    for result in results:
        r = result.record
        verb = ("would replay" if dry_run else "replayed") if result.published else "already"
        out.print(f"{verb} {r.partition}:{r.offset} → {r.source_topic} ({r.reason})")
    published = sum(r.published for r in results)
    err.print(f"{published} published, {len(results) - published} already replayed")


# ---------------------------------------------------------------- catalog


@catalog.command(
    "validate",
    epilog=_example("hubctl catalog validate", "hubctl catalog validate --file providers.yaml"),
)
def catalog_validate(
    file: Annotated[
        Path | None, typer.Option(help="a providers.yaml (default: the packaged one)")
    ] = None,
) -> None:
    """Load the catalog with every check the services apply; exit 1 with the reason if not."""
    try:
        loaded = catalog_module.load(file)
    except (ValueError, OSError) as error:
        err.print(f"[red]invalid catalog[/red]: {error}", markup=True)
        raise typer.Exit(1) from None
    out.print(f"catalog valid: {len(loaded.providers)} providers")


@catalog.command("show", epilog=_example("hubctl catalog show", "hubctl catalog show shopify"))
def catalog_show(
    provider: Annotated[str | None, typer.Argument(help="one provider's full entry")] = None,
) -> None:
    """Every provider (id, name, category, scope, auth modes), or one provider's entry."""
    from hub_catalog import UnknownProviderError

    loaded = catalog_module.load()
    if provider is not None:
        try:
            entry = loaded.get(provider)
        except UnknownProviderError as error:
            err.print(str(error))
            raise typer.Exit(1) from None
        out.print_json(data=catalog_module.detail(entry))
        return
    table = Table(title="providers")
    for column in ("id", "name", "category", "scope", "auth"):
        table.add_column(column)
    for entry in loaded.providers:
        table.add_row(*(str(v) for v in catalog_module.summary(entry).values()))
    out.print(table)


# ---------------------------------------------------------------- token


@app.command(
    "token",
    epilog=_example(
        "hubctl token --org 3f1c2b6e-8a4d-4f0e-9c1a-2b3c4d5e6f70",
        'hubctl token --org 3f1c2b6e-... --scope "integrations:read"',
        'hubctl token --service spend-sync --providers "google_ads meta_ads"',
    ),
)
def token(
    org: Annotated[uuid.UUID | None, typer.Option(help="organization id")] = None,
    scope: Annotated[
        str, typer.Option(help="space-separated scopes")
    ] = "integrations:read integrations:write",
    sub: Annotated[str, typer.Option(help="the token's subject")] = "dev-admin",
    hours: Annotated[float, typer.Option(help="lifetime in hours")] = 12.0,
    service: Annotated[
        str | None, typer.Option(help="a hub service: a credentials:read service token instead")
    ] = None,
    providers: Annotated[
        str, typer.Option(help="with --service: space-separated providers it may read")
    ] = "",
) -> None:
    """Print a development bearer token for one organization, or with --service a service
    token that reads credentials of --providers (15 minutes); refused in production."""
    if (org is None) == (service is None):
        err.print("give --org <uuid> or --service <name>")
        raise typer.Exit(2)
    try:
        if service is not None:
            print(tokens.service_token(service, providers=providers.split()))
        else:
            assert org is not None
            print(tokens.user_token(org, scopes=scope.split(), subject=sub, hours=hours))
    except tokens.RefusedError as error:
        err.print(str(error))
        raise typer.Exit(2) from None


# ---------------------------------------------------------------- doctor


@app.command("doctor", epilog=_example("hubctl doctor"))
def doctor() -> None:
    """Check this deployment: every service's settings, its secrets (present, the same where
    shared, distinct where not; never printed), PostgreSQL, the broker, every service, and the
    brands that will not hear about problems. Exit 1 on a failure."""
    report = _run(doctor_module.diagnose())
    table = Table(title="hubctl doctor")
    for column in ("", "area", "check", "detail"):
        table.add_column(column)
    for check in report.checks:
        if check.ok:
            mark = "[green]ok[/green]"
        else:
            mark = "[yellow]![/yellow]" if check.warning else "[red]FAIL[/red]"
        table.add_row(mark, check.area, check.name, check.detail)
    out.print(table)
    if report.unheard:
        out.print("[bold]will not hear about problems[/bold] (no Slack connection, no recipients):")
        for org, count in report.unheard:
            out.print(f"  {org}  ({count} connections)")
    if not report.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------- trace


@app.command(
    "trace",
    epilog=_example("hubctl trace last", "hubctl trace 4bf92f3577b34da6", "hubctl trace --list"),
)
def trace(
    which: Annotated[str, typer.Argument(help="last, or a trace id (a unique prefix will do)")] = (
        "last"
    ),
    file: Annotated[
        Path | None,
        typer.Option(help="the spans file (default: OTEL_TRACES_FILE, else .local/traces.jsonl)"),
    ] = None,
    listing: Annotated[bool, typer.Option("--list", help="list the traces instead")] = False,
) -> None:
    """Draw one trace as a waterfall in the terminal: each span's service, name, duration and
    place in time, from the spans `make run` writes locally (OTLP JSON)."""
    from hub_runtime import ServiceSettings

    path = file or Path(ServiceSettings().otel_traces_file or traces_module.DEFAULT_FILE)
    if not path.exists():
        err.print(f"no spans at {path}: run `make run` (or set OTEL_TRACES_FILE)")
        raise typer.Exit(1)
    found = traces_module.traces(traces_module.read_spans(path))
    if listing:
        table = Table(title=str(path))
        for column in ("trace", "root span", "services", "spans", "ms"):
            table.add_column(column)
        for tid, spans in found.items():
            if len(spans) < 2:
                continue  # a sweep that found nothing
            total = (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e6
            table.add_row(
                tid,
                spans[0].name,
                ", ".join(sorted({s.service for s in spans})),
                str(len(spans)),
                f"{total:.1f}",
            )
        out.print(table)
        return
    chosen = traces_module.find(found, which)
    if chosen is None:
        err.print(f"no trace {which!r} in {path} ({len(found)} traces)")
        raise typer.Exit(1)
    out.print(traces_module.waterfall(*chosen))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except ValidationError as error:  # settings from the environment; never echo the values
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) or e["msg"]
            for e in error.errors(include_input=False, include_url=False)
        )
        err.print(f"invalid settings: {fields}", markup=False)
        sys.exit(2)
