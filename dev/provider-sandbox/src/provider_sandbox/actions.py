"""Action endpoints: requests sent on a brand's behalf (Slack ``chat.postMessage``,
``chat.update``, an incoming webhook; Resend ``POST /emails``), played from catalog data.

An authenticated action is judged like a health request (the credential where the mode's
``transport`` puts it, an issued and usable token or a well-shaped key; faults apply). An
unauthenticated one (a webhook, whose URL is the credential) is refused when a URL value starts
with ``rejected``. The body must be JSON. The answer meets the action's ``success`` matches,
repeats the ``echo`` fields of the body and names a fresh id at ``result_id_path``; the call is
recorded for ``GET /_sandbox/{provider}/actions``. With an ``idempotency_header``, a repeated key
answers the first answer and records nothing (another body under the same key is a 409).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from fastapi.responses import JSONResponse
from hub_catalog import Action

from provider_sandbox.answers import Account, Refusal, problem, succeeded, success_status
from provider_sandbox.bodies import place
from provider_sandbox.call import Call
from provider_sandbox.checks import authenticate, judge
from provider_sandbox.state import ActionCall, IdempotentAnswer


async def act(call: Call) -> JSONResponse:
    action, name = _action(call)
    if action.authenticated:
        mode, reading = authenticate(call, action)
        await judge(call, mode, reading)
    elif any(value.startswith("rejected") for value in call.url_values.values()):
        raise Refusal(problem(404, "not_found", "no such webhook (sandbox: refused value)"))
    body = call.incoming.json()
    if not isinstance(body, dict):
        raise Refusal(problem(400, "invalid_request", "the body must be a JSON object"))
    key = call.incoming.header(action.idempotency_header) if action.idempotency_header else None
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if key is not None:
        earlier = call.store.idempotent.get((call.provider.id, name, key))
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise Refusal(
                    problem(409, "invalid_idempotent_request", "same key, another request body")
                )
            return JSONResponse(earlier.body, status_code=earlier.status)
    echoed = body.get(action.result_id_path or "") if action.result_id_path in action.echo else None
    result_id = str(echoed) if echoed else call.store.result_id(call.provider.id, name)
    answer = _answer(call, action, body, result_id)
    status = success_status(action)
    call.store.record_action(
        call.provider.id,
        ActionCall(
            action=name, body=body, result_id=result_id, idempotency_key=key, at=time.time()
        ),
    )
    if key is not None:
        call.store.idempotent[(call.provider.id, name, key)] = IdempotentAnswer(
            fingerprint, status, answer
        )
    return JSONResponse(answer, status_code=status)


def _action(call: Call) -> tuple[Action, str]:
    action, name = call.endpoint.request, call.endpoint.action
    assert isinstance(action, Action), "action endpoints carry their catalog action"
    assert name is not None
    return action, name


def _answer(call: Call, action: Action, body: dict[str, Any], result_id: str) -> Any:
    account = Account.of(call.provider, call.incoming.host, call.tenant)
    answer = succeeded([action], account)
    for name in action.echo:
        if name in body:
            answer = place(answer, name, body[name])
    if action.result_id_path and action.result_id_path not in action.echo:
        answer = place(answer, action.result_id_path, result_id)
    return answer
