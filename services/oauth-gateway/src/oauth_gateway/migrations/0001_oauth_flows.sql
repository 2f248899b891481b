-- oauth-gateway: pending OAuth flows, shared by every gateway replica.
-- A flow is created by start and consumed once by its callback
-- (UPDATE ... WHERE consumed_at IS NULL AND expires_at > now() RETURNING).
-- The PKCE verifier is stored encrypted (key ring, bound to organization, provider and
-- "code_verifier"); the browser binding is an HMAC of the browser's cookie, never the cookie.

CREATE TABLE oauth_flows (
    flow_id                 UUID PRIMARY KEY,
    organization_id         UUID NOT NULL,
    provider                VARCHAR(50) NOT NULL,
    auth_type               VARCHAR(40) NOT NULL,
    nonce                   TEXT NOT NULL,
    browser_binding         TEXT NOT NULL,
    code_verifier_encrypted JSONB,
    return_to               TEXT,
    tenant_params           JSONB NOT NULL DEFAULT '{}',
    requested_by            TEXT,
    created_at              TIMESTAMPTZ NOT NULL,
    expires_at              TIMESTAMPTZ NOT NULL,
    consumed_at             TIMESTAMPTZ,
    CHECK (expires_at > created_at)
);

-- The purge deletes flows long expired.
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);
