-- Capsules: versioned definitions per tenant, their runs, the runs' step history and events,
-- tool invocations (the exactly-once side effect of a tool step) and artifacts.
-- Same tenancy rules as every domain: RLS enabled AND forced, keyed on `soma.tenant_id`.
CREATE SCHEMA capsules;
GRANT USAGE ON SCHEMA capsules TO soma_app;

CREATE TABLE capsules.capsules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  version text NOT NULL,
  major integer NOT NULL,
  minor integer NOT NULL,
  patch integer NOT NULL,
  description text,
  definition jsonb NOT NULL,
  -- The text as submitted (YAML or JSON), so authors get back what they wrote.
  source text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT capsules_tenant_name_version_key UNIQUE (tenant_id, name, version),
  CONSTRAINT capsules_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE capsules.runs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  capsule_id uuid NOT NULL,
  inputs jsonb NOT NULL,
  status text NOT NULL DEFAULT 'RUNNING'
    CHECK (status IN ('RUNNING', 'AWAITING_APPROVAL', 'COMPLETED', 'FAILED', 'CANCELLED')),
  output jsonb,
  error text,
  engine text NOT NULL,
  started_by text NOT NULL,
  -- Highest event sequence handed out; events are numbered 1, 2, 3… per run.
  last_sequence bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  CONSTRAINT runs_tenant_id_key UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, capsule_id) REFERENCES capsules.capsules (tenant_id, id)
);

CREATE TABLE capsules.run_steps (
  tenant_id uuid NOT NULL,
  run_id uuid NOT NULL,
  -- Step id, prefixed by the sub-capsule step ids it runs inside (`child/inner`).
  step_key text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL
    CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'AWAITING_APPROVAL', 'APPROVED', 'REJECTED')),
  attempts integer NOT NULL DEFAULT 0,
  detail jsonb,
  output jsonb,
  error text,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (run_id, step_key),
  FOREIGN KEY (tenant_id, run_id) REFERENCES capsules.runs (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE capsules.run_events (
  tenant_id uuid NOT NULL,
  run_id uuid NOT NULL,
  sequence bigint NOT NULL,
  type text NOT NULL,
  step_key text,
  payload jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (run_id, sequence),
  FOREIGN KEY (tenant_id, run_id) REFERENCES capsules.runs (tenant_id, id) ON DELETE CASCADE
);

-- Every attempt of every executed step, written when the attempt begins: activities run at least
-- once, and this table shows how often they did (the crash tests read it).
CREATE TABLE capsules.step_attempts (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  run_id uuid NOT NULL,
  step_key text NOT NULL,
  attempt integer NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  FOREIGN KEY (tenant_id, run_id) REFERENCES capsules.runs (tenant_id, id) ON DELETE CASCADE
);

-- The side effect of a tool step, keyed by (run, step): written in the transaction that completes
-- the step, with ON CONFLICT DO NOTHING, so a re-run attempt can never add a second row.
CREATE TABLE capsules.tool_invocations (
  tenant_id uuid NOT NULL,
  run_id uuid NOT NULL,
  step_key text NOT NULL,
  tool text NOT NULL,
  args jsonb NOT NULL,
  result jsonb,
  invoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (run_id, step_key),
  FOREIGN KEY (tenant_id, run_id) REFERENCES capsules.runs (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE capsules.artifacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  run_id uuid NOT NULL,
  step_key text NOT NULL,
  name text NOT NULL,
  object_key text NOT NULL,
  content_type text NOT NULL,
  size bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT artifacts_run_step_key UNIQUE (run_id, step_key),
  FOREIGN KEY (tenant_id, run_id) REFERENCES capsules.runs (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX capsules_page_idx ON capsules.capsules (tenant_id, name, major DESC, minor DESC, patch DESC);
CREATE INDEX runs_page_idx ON capsules.runs (tenant_id, created_at DESC, id DESC);
CREATE INDEX step_attempts_run_idx ON capsules.step_attempts (run_id, step_key);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['capsules', 'runs', 'run_steps', 'run_events', 'step_attempts', 'tool_invocations', 'artifacts'] LOOP
    EXECUTE format('ALTER TABLE capsules.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE capsules.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON capsules.%I USING (tenant_id = nullif(current_setting(''soma.tenant_id'', true), '''')::uuid)',
      t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON capsules.capsules TO soma_app;
GRANT SELECT, INSERT, UPDATE ON capsules.runs, capsules.run_steps TO soma_app;
GRANT SELECT, INSERT ON capsules.run_events, capsules.step_attempts, capsules.tool_invocations, capsules.artifacts TO soma_app;
GRANT USAGE ON SEQUENCE capsules.step_attempts_id_seq TO soma_app;

-- Which tenant owns a run, readable across tenants ONLY as this answer, so a request for another
-- tenant's run is told FORBIDDEN without seeing it.
CREATE FUNCTION capsules.run_tenant(run uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, capsules
  AS $$ SELECT tenant_id FROM capsules.runs WHERE id = run $$;
REVOKE ALL ON FUNCTION capsules.run_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION capsules.run_tenant(uuid) TO soma_app;
CREATE POLICY runs_definer_read ON capsules.runs FOR SELECT TO CURRENT_USER USING (true);
