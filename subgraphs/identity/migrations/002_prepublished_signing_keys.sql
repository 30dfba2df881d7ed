-- Pre-published signing keys. A key is published in the JWKS for a while BEFORE it signs, so a
-- verifier with a cached JWKS (the router) already knows the kid of tokens issued right after a
-- rotation. States: pending (activated_at NULL), active (newest activated, not retired),
-- retiring (retired_at in the future), retired (retired_at past; no longer published).
ALTER TABLE identity.signing_keys ADD COLUMN activated_at timestamptz;
UPDATE identity.signing_keys SET activated_at = created_at WHERE retired_at IS NULL;
GRANT UPDATE (activated_at) ON identity.signing_keys TO soma_app;
