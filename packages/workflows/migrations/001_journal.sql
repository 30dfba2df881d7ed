-- The embedded workflow engine's state (JournalWorkflowEngine): one row per execution, the
-- recorded outcome of every activity / timer / signal wait by its deterministic key, and the
-- signals delivered. Replaying a workflow function against this journal after a crash returns
-- recorded outcomes instead of running them again.
-- No tenant column and no RLS: these rows are the engine's, not a tenant's; tenant data lives in
-- the domains' own tables (e.g. capsules.runs) under FORCE RLS, written by activities.
CREATE SCHEMA workflows;
GRANT USAGE ON SCHEMA workflows TO soma_app;

CREATE TABLE workflows.executions (
  workflow_id text PRIMARY KEY,
  workflow_type text NOT NULL,
  input jsonb NOT NULL,
  status text NOT NULL DEFAULT 'RUNNING'
    CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT')),
  output jsonb,
  error text,
  cancel_requested boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX executions_running_idx ON workflows.executions (created_at) WHERE status = 'RUNNING';

CREATE TABLE workflows.journal (
  workflow_id text NOT NULL REFERENCES workflows.executions ON DELETE CASCADE,
  key text NOT NULL,
  -- {"ok": value} | {"error": {"name", "message"}} | {"deadline": epoch ms}
  outcome jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (workflow_id, key)
);

CREATE TABLE workflows.signals (
  id bigserial PRIMARY KEY,
  workflow_id text NOT NULL REFERENCES workflows.executions ON DELETE CASCADE,
  name text NOT NULL,
  payload jsonb NOT NULL,
  consumed boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signals_pending_idx ON workflows.signals (workflow_id, name, id) WHERE NOT consumed;

GRANT SELECT, INSERT, UPDATE ON workflows.executions, workflows.journal, workflows.signals TO soma_app;
GRANT USAGE ON SEQUENCE workflows.signals_id_seq TO soma_app;
