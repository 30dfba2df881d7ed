-- Sessions: personas, conversations, messages, and the transactional outbox of their events.
-- Same tenancy rules as identity: RLS enabled AND forced on every table, keyed on the
-- transaction-local `soma.tenant_id`; the application role gets only what it needs.
-- tenant_id has no foreign key to identity.tenants on purpose: domains own their schemas.

CREATE SCHEMA sessions;
GRANT USAGE ON SCHEMA sessions TO soma_app;

CREATE TABLE sessions.personas (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  provider text NOT NULL CHECK (provider IN ('OPENAI_COMPATIBLE')),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  system_prompt text NOT NULL CHECK (length(system_prompt) <= 20000),
  temperature double precision NOT NULL CHECK (temperature BETWEEN 0 AND 2),
  max_tokens integer NOT NULL CHECK (max_tokens BETWEEN 1 AND 4096),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT personas_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT personas_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE sessions.sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  user_id text NOT NULL,
  persona_id uuid NOT NULL,
  model text NOT NULL,
  title text CHECK (length(title) <= 200),
  status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CLOSED')),
  prompt_tokens bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cost_usd numeric(20, 10) NOT NULL DEFAULT 0,
  -- Highest event sequence ever handed out; a restarted event log continues above it.
  last_sequence bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sessions_tenant_id_key UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, persona_id) REFERENCES sessions.personas (tenant_id, id)
);

CREATE TABLE sessions.messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  role text NOT NULL CHECK (role IN ('USER', 'ASSISTANT')),
  content text NOT NULL,
  status text NOT NULL CHECK (status IN ('STREAMING', 'COMPLETE', 'FAILED', 'CANCELLED')),
  prompt_tokens integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  cost_usd numeric(20, 10) NOT NULL DEFAULT 0,
  latency_ms integer,
  ttft_ms integer,
  finish_reason text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions.sessions (tenant_id, id) ON DELETE CASCADE
);

-- Written in the same transaction as the change it reports; a relay publishes and marks rows,
-- so a crash between the database write and the publish loses nothing (at-least-once).
CREATE TABLE sessions.outbox (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  topic text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz
);

CREATE INDEX personas_page_idx ON sessions.personas (tenant_id, created_at, id);
CREATE INDEX sessions_page_idx ON sessions.sessions (tenant_id, created_at DESC, id DESC);
CREATE INDEX messages_page_idx ON sessions.messages (tenant_id, session_id, created_at, id);
CREATE INDEX outbox_unpublished_idx ON sessions.outbox (id) WHERE published_at IS NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['personas', 'sessions', 'messages', 'outbox'] LOOP
    EXECUTE format('ALTER TABLE sessions.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE sessions.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON sessions.%I USING (tenant_id = nullif(current_setting(''soma.tenant_id'', true), '''')::uuid)',
      t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON sessions.personas TO soma_app;
GRANT SELECT, INSERT, UPDATE ON sessions.sessions TO soma_app;
GRANT SELECT, INSERT, UPDATE ON sessions.messages TO soma_app;
GRANT SELECT, INSERT, UPDATE ON sessions.outbox TO soma_app;
GRANT USAGE ON SEQUENCE sessions.outbox_id_seq TO soma_app;

-- Which tenant owns a session, readable across tenants ONLY as this yes/no answer, so that a
-- request for another tenant's session is told FORBIDDEN (as the API promises) without seeing it.
CREATE FUNCTION sessions.session_tenant(session uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, sessions
  AS $$ SELECT tenant_id FROM sessions.sessions WHERE id = session $$;
REVOKE ALL ON FUNCTION sessions.session_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sessions.session_tenant(uuid) TO soma_app;
-- Under FORCE RLS a non-superuser owner is filtered too; the definer function above reads as
-- the owner, so the owner gets this one read-everything policy (the app role does not).
CREATE POLICY sessions_definer_read ON sessions.sessions FOR SELECT TO CURRENT_USER USING (true);

-- The outbox relay works across tenants, but only through these two functions: it sees the
-- pending rows (locked for its transaction, so two relays never take the same row) and marks
-- them published after the publish succeeded. A crash in between rolls back: at-least-once.
CREATE POLICY outbox_definer_all ON sessions.outbox TO CURRENT_USER USING (true) WITH CHECK (true);

CREATE FUNCTION sessions.outbox_pending(batch integer)
  RETURNS TABLE (id bigint, tenant_id uuid, topic text, type text, payload jsonb, created_at timestamptz)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sessions
  AS $$
    SELECT o.id, o.tenant_id, o.topic, o.type, o.payload, o.created_at FROM sessions.outbox o
     WHERE o.published_at IS NULL ORDER BY o.id LIMIT batch FOR UPDATE SKIP LOCKED
  $$;
CREATE FUNCTION sessions.outbox_mark_published(ids bigint[]) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sessions
  AS $$ UPDATE sessions.outbox SET published_at = clock_timestamp() WHERE id = ANY (ids) $$;
REVOKE ALL ON FUNCTION sessions.outbox_pending(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION sessions.outbox_mark_published(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sessions.outbox_pending(integer) TO soma_app;
GRANT EXECUTE ON FUNCTION sessions.outbox_mark_published(bigint[]) TO soma_app;
