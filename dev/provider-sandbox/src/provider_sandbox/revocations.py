"""A provider's own revocation request (the catalog's ``revocation``: Slack ``auth.revoke``, Meta
``DELETE /me/permissions``, Stripe's deauthorize, Shopify's uninstall), as the provider would
play it.

The request must carry exactly what the catalog lists (its ``auth`` placements and body; the
mode's ``transport`` is not expected). An access token it carries must be one the sandbox issued
and still usable: its whole grant is revoked. An ``{account_id}`` it names (Stripe's
``stripe_user_id``) must be the tenant's sandbox account: every grant of the provider for that
tenant is revoked. Platform credentials must be the sandbox's values. The answer is the
provider's recorded ``revocation``; a token or account it cannot revoke gets the recorded
``revoked``.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from provider_sandbox.answers import Account, Refusal, mismatch, problem, recorded, revoked
from provider_sandbox.call import Call
from provider_sandbox.expectations import expectations, read
from provider_sandbox.state import FaultMode

NAME = "revocation"


async def revocation(call: Call) -> JSONResponse:
    request = call.endpoint.request
    assert request is not None, "revocation endpoints carry their catalog request"
    reading = read(call.incoming, expectations(request, request.auth), call.url_values)
    values = reading.values
    token = values.get("access_token")
    if reading.lacks({"access_token", "account_id"}):
        raise Refusal(revoked(call.recordings, "no credential where the catalog puts it"))
    platform = {c.name for c in call.provider.platform_credentials}
    problems = reading.problems() + [
        f"platform credential {name!r} is not the sandbox's value"
        for name, value in values.items()
        if name in platform and value != call.platform_value(name)
    ]
    if problems:
        raise Refusal(mismatch(problems))
    if await call.fault([token]) == FaultMode.REVOKED:
        raise Refusal(revoked(call.recordings, "revoked (sandbox fault)"))
    account = Account.of(call.provider, call.incoming.host, call.tenant)
    if token is not None:
        issued = call.store.token(call.provider.id, token, "access")
        if issued is None or not issued.usable(call.provider.id, call.tenant):
            raise Refusal(revoked(call.recordings, "access_token refused"))
        issued.grant.revoked = True
    if "account_id" in values:
        if values["account_id"] != account.id:
            raise Refusal(revoked(call.recordings, "no such connected account"))
        for issued in call.store.tokens_of(call.provider.id):
            if all(issued.grant.tenant.get(k) == v for k, v in call.tenant.items()):
                issued.grant.revoked = True
    answer = recorded(call.recordings, NAME, account.values())
    if answer is None:
        return problem(501, "not_recorded", f"{call.provider.id} has no recorded {NAME} answer")
    return answer
