"""The channels: Slack (bot token or the platform webhook), Resend and SMTP, as ``Senders``.

Slack and Resend requests are the catalog's ``actions`` (``post_message``, ``update_message``,
``post_webhook``, ``send_email``), built by ``hub_providers`` and sent through its guarded
transport (allow-listed hosts, deadline, size cap: SECURITY.md 20). The message body is ours and
is attached after the request is built, never rendered as a template. A brand credential is
decrypted here, for the one request, from the ciphertext connection-store handed over.

Outcomes: a 429 (with ``Retry-After``), a 5xx, Slack's ``ok: false`` with a transient error, or a
connection that never opened are retryable; a request that may have reached the provider without
an answer (a timeout, a dropped connection) is *uncertain*; any other refusal is permanent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib
import httpx
from hub_catalog import Action, Provider
from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_providers import (
    Answer,
    CredentialRevokedError,
    OutboundHttp,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
    build_request,
    raise_for_answer,
)
from hub_providers.calls import read
from pydantic import SecretStr

from notifier.domain.deliveries import Delivery, Sent
from notifier.domain.routing import Channel, Context
from notifier.errors import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    UncertainDeliveryError,
)

WEBHOOK_URL = re.compile(
    r"^https://hooks\.slack\.com/services/([A-Za-z0-9]{1,40})/([A-Za-z0-9]{1,40})/([A-Za-z0-9]{1,80})$"
)
"""A Slack incoming-webhook URL; anything else is refused (SECURITY.md 22)."""
SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""Slack ``ok: false`` errors that a later attempt may get past."""
RESEND_TRANSIENT = frozenset({"concurrent_idempotent_requests", "internal_server_error"})


def webhook_params(url: SecretStr) -> dict[str, str]:
    """The parts of a webhook URL as the catalog's ``post_webhook`` params."""
    match = WEBHOOK_URL.fullmatch(url.get_secret_value())
    if match is None:
        raise ValueError("not a Slack incoming-webhook URL (https://hooks.slack.com/services/...)")
    return dict(zip(("webhook_team", "webhook_bot", "webhook_key"), match.groups(), strict=True))


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: SecretStr | None = None
    start_tls: bool = True
    use_tls: bool = False
    timeout_s: float = 20.0


class ChannelSenders:
    def __init__(
        self,
        http: OutboundHttp,
        keyring: KeyRing | None,
        *,
        slack_webhook_url: SecretStr | None = None,
        resend_api_key: SecretStr | None = None,
        smtp: SmtpConfig | None = None,
    ) -> None:
        self.http = http
        self.keyring = keyring
        self.webhook = None if slack_webhook_url is None else webhook_params(slack_webhook_url)
        self.resend_api_key = resend_api_key
        self.smtp = smtp
        self.slack = http.catalog.get("slack")
        self.resend = http.catalog.get("resend")

    async def send(self, delivery: Delivery, context: Context | None) -> Sent:
        match delivery.channel:
            case Channel.SLACK_BOT:
                return await self._slack_bot(delivery, context)
            case Channel.SLACK_WEBHOOK:
                return await self._slack_webhook(delivery)
            case Channel.RESEND:
                return await self._resend(delivery, context)
            case Channel.SMTP:
                return await self._smtp(delivery)

    # Slack

    async def _slack_bot(self, delivery: Delivery, context: Context | None) -> Sent:
        slack = context.slack if context else None
        if slack is None:
            raise PermanentDeliveryError(
                delivery.channel, "Slack is no longer connected for this organization"
            )
        token = self._decrypt(slack.access_token, delivery.organization_id, "slack", "access_token")
        target = delivery.target
        if delivery.action == "update":
            action = self.slack.actions["update_message"]
            body = {"channel": target["channel"], "ts": target["ts"], **delivery.payload}
        else:
            action = self.slack.actions["post_message"]
            body = {"channel": target["channel"], **delivery.payload}
            body |= {"unfurl_links": False, "unfurl_media": False}
        answer = await self._call(delivery, self.slack, action, {"access_token": token}, body)
        return Sent(ref=answer.at("ts"), channel_id=answer.at("channel"))

    async def _slack_webhook(self, delivery: Delivery) -> Sent:
        if self.webhook is None:
            raise PermanentDeliveryError(delivery.channel, "no platform Slack webhook configured")
        action = self.slack.actions["post_webhook"]
        await self._call(delivery, self.slack, action, self.webhook, dict(delivery.payload))
        return Sent()

    # Email

    async def _resend(self, delivery: Delivery, context: Context | None) -> Sent:
        target = delivery.target
        if target.get("via") == "brand":
            sealed = context.resend_key if context else None
            if sealed is None:
                raise PermanentDeliveryError(delivery.channel, "Resend is no longer connected")
            key = self._decrypt(sealed, delivery.organization_id, "resend", "api_key")
        elif self.resend_api_key is not None:
            key = self.resend_api_key
        else:
            raise PermanentDeliveryError(delivery.channel, "no platform Resend key configured")
        body = {
            "from": target["from"],
            "to": list(target["to"]),
            "subject": delivery.payload["subject"],
            "text": delivery.payload["text"],
            "html": delivery.payload["html"],
        }
        action = self.resend.actions["send_email"]
        answer = await self._call(delivery, self.resend, action, {"api_key": key}, body)
        return Sent(ref=answer.at(action.result_id_path))

    async def _smtp(self, delivery: Delivery) -> Sent:
        config = self.smtp
        if config is None:
            raise PermanentDeliveryError(delivery.channel, "no SMTP server configured")
        message = EmailMessage()
        message["From"] = delivery.target["from"]
        message["To"] = ", ".join(delivery.target["to"])
        message["Subject"] = delivery.payload["subject"]
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(str(delivery.id), domain="notifier.integrations-hub")
        message.set_content(delivery.payload["text"])
        message.add_alternative(delivery.payload["html"], subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                start_tls=config.start_tls,
                use_tls=config.use_tls,
                timeout=config.timeout_s,
            )
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as error:
            raise RetryableDeliveryError(delivery.channel, _smtp_words(error)) from None
        except aiosmtplib.SMTPRecipientsRefused as error:  # before DATA: nothing was sent
            permanent = all(refusal.code >= 500 for refusal in error.recipients)
            leaf = PermanentDeliveryError if permanent else RetryableDeliveryError
            raise leaf(delivery.channel, "SMTP: every recipient was refused") from None
        except aiosmtplib.SMTPResponseException as error:
            leaf = PermanentDeliveryError if error.code >= 500 else RetryableDeliveryError
            raise leaf(delivery.channel, _smtp_words(error), status_code=error.code) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise UncertainDeliveryError(delivery.channel, _smtp_words(error)) from None
        return Sent(ref=message["Message-ID"])

    # Shared

    def _decrypt(
        self, sealed: Any, organization_id: uuid.UUID, provider: str, field: str
    ) -> SecretStr:
        if self.keyring is None:
            raise PermanentDeliveryError(provider, "CREDENTIAL_KEYS is not configured")
        try:
            credential = EncryptedCredential.model_validate(sealed)
            return self.keyring.decrypt(credential, Binding(organization_id, provider, field))
        except (KeyRingError, ValueError):
            raise PermanentDeliveryError(
                provider, f"the stored {provider} credential cannot be decrypted"
            ) from None

    async def _call(
        self,
        delivery: Delivery,
        provider: Provider,
        action: Action,
        values: Mapping[str, str | SecretStr],
        body: dict[str, Any],
    ) -> Answer:
        plain = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()
        }
        mode = provider.auth
        built = build_request(
            self.http.catalog,
            provider,
            action,
            plain,
            transport=mode.transport if action.authenticated else [],
        )
        headers = {
            name: value
            for name, value in built.headers.items()
            if name.lower() not in ("content-length", "content-type")
        }
        if action.idempotency_header:
            headers[action.idempotency_header] = delivery.idempotency_key
        request = httpx.Request(built.method, built.url, headers=headers, json=body)
        channel = delivery.channel.value
        try:
            async with self.http.client(provider) as client:
                response = await client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise RetryableDeliveryError(
                channel, f"{provider.name}: could not connect ({type(error).__name__})"
            ) from None
        except UnsafeDestinationError as error:
            raise PermanentDeliveryError(channel, str(error)) from None
        except (ResponseTooLargeError, httpx.TransportError, TimeoutError) as error:
            raise UncertainDeliveryError(
                channel, f"{provider.name} did not answer ({type(error).__name__})"
            ) from None
        answer = read(response)
        _raise(channel, provider, action, answer)
        return answer


def _raise(channel: str, provider: Provider, action: Action, answer: Answer) -> None:
    """Map an answer to a delivery error, or return when the action succeeded."""
    try:
        raise_for_answer(provider, answer, action)
    except RateLimitedError as error:
        raise RetryableDeliveryError(
            channel,
            str(error),
            status_code=error.status_code,
            code=error.code,
            retry_after_s=error.retry_after_s,
        ) from None
    except ProviderUnavailableError as error:
        raise RetryableDeliveryError(
            channel, str(error), status_code=error.status_code, code=error.code
        ) from None
    except CredentialRevokedError as error:
        raise PermanentDeliveryError(
            channel, str(error), status_code=error.status_code, code=error.code
        ) from None
    except ProviderRejectedError as error:
        code = error.code or _name(answer)
        transient = code in SLACK_TRANSIENT | RESEND_TRANSIENT
        leaf = RetryableDeliveryError if transient else PermanentDeliveryError
        message = f"{provider.name} refused the request (HTTP {answer.status}, {code})"
        raise leaf(channel, message, status_code=error.status_code, code=code) from None


def _name(answer: Answer) -> str | None:
    """Resend's error name (``{"statusCode", "name", "message"}``)."""
    found = answer.at("name")
    return found[:100] if found else None


def _smtp_words(error: Exception) -> str:
    code = getattr(error, "code", None)
    return f"SMTP: {type(error).__name__}" + (f" {code}" if code else "")
