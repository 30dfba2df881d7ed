-- Tenant scope for the engine's rows, as in every other domain: FORCE row-level security keyed
-- on `soma.tenant_id`. An execution belongs to the tenant its input names (`input.tenantId`),
-- its journal entries and signals to the same tenant, so request-path SQL scoped to tenant A can
-- never read tenant B's inputs, outputs or step outcomes from here.
-- The worker picks up any tenant's executions, but only through `workflows.running_executions()`
-- (ids, tenants and cancel flags, nothing else); it then drives each execution in that
-- execution's own tenant scope. `workflows.execution_tenant(id)` tells which tenant owns an id,
-- as capsules.run_tenant does for runs.
ALTER TABLE workflows.executions ADD COLUMN tenant_id uuid;
ALTER TABLE workflows.journal ADD COLUMN tenant_id uuid;
ALTER TABLE workflows.signals ADD COLUMN tenant_id uuid;

-- Rows written before this migration: their tenant is the one their input names. One without a
-- valid tenant stays reachable by the owner only (no application scope matches NULL).
UPDATE workflows.executions SET tenant_id = (input->>'tenantId')::uuid
 WHERE input->>'tenantId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
UPDATE workflows.journal j SET tenant_id = e.tenant_id FROM workflows.executions e WHERE e.workflow_id = j.workflow_id;
UPDATE workflows.signals s SET tenant_id = e.tenant_id FROM workflows.executions e WHERE e.workflow_id = s.workflow_id;
-- NOT VALID: every new row needs a tenant; old rows without one are left as they are.
ALTER TABLE workflows.executions ADD CONSTRAINT executions_tenant_required CHECK (tenant_id IS NOT NULL) NOT VALID;
ALTER TABLE workflows.journal ADD CONSTRAINT journal_tenant_required CHECK (tenant_id IS NOT NULL) NOT VALID;
ALTER TABLE workflows.signals ADD CONSTRAINT signals_tenant_required CHECK (tenant_id IS NOT NULL) NOT VALID;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['executions', 'journal', 'signals'] LOOP
    EXECUTE format('ALTER TABLE workflows.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE workflows.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON workflows.%I USING (tenant_id = nullif(current_setting(''soma.tenant_id'', true), '''')::uuid)',
      t);
  END LOOP;
END $$;

-- Under FORCE RLS a non-superuser owner is filtered too; the definer functions below read as the
-- owner, so the owner gets this one read-everything policy (the app role does not).
CREATE POLICY executions_definer_read ON workflows.executions FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION workflows.execution_tenant(id text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, workflows
  AS $$ SELECT e.tenant_id FROM workflows.executions e WHERE e.workflow_id = id $$;

CREATE FUNCTION workflows.running_executions()
  RETURNS TABLE (workflow_id text, tenant_id uuid, cancel_requested boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, workflows
  AS $$
    SELECT e.workflow_id, e.tenant_id, e.cancel_requested FROM workflows.executions e
     WHERE e.status = 'RUNNING' AND e.tenant_id IS NOT NULL ORDER BY e.created_at
  $$;

REVOKE ALL ON FUNCTION workflows.execution_tenant(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION workflows.running_executions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workflows.execution_tenant(text) TO soma_app;
GRANT EXECUTE ON FUNCTION workflows.running_executions() TO soma_app;
