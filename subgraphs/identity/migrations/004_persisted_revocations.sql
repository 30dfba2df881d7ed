-- Revocations outlive a restart (docs/security.md §5): the router's in-memory list is loaded
-- from here at start-up, so a token revoked before a restart stays refused after it.
CREATE TABLE identity.revocations (
  tenant_id uuid NOT NULL REFERENCES identity.tenants (id),
  -- An API key's or a user's id: the `sub` of the tokens it holds.
  subject text NOT NULL,
  revoked_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, subject)
);
CREATE INDEX revocations_by_time ON identity.revocations (revoked_at);
ALTER TABLE identity.revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.revocations FORCE ROW LEVEL SECURITY;
CREATE POLICY revocations_tenant ON identity.revocations
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);
-- The start-up load reads every tenant's recent revocations through the definer function below.
CREATE POLICY revocations_definer_read ON identity.revocations FOR SELECT TO CURRENT_USER USING (true);
CREATE FUNCTION identity.revocations_since(p_since timestamptz)
  RETURNS TABLE (subject text, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT r.subject, r.revoked_at FROM identity.revocations r WHERE r.revoked_at > p_since
        ORDER BY r.revoked_at $$;
REVOKE ALL ON FUNCTION identity.revocations_since(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.revocations_since(timestamptz) TO soma_app;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON identity.revocations TO soma_app;
