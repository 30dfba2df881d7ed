-- Answers left STREAMING by a process that died (SIGKILL, power loss) are repaired: marked
-- FAILED with the usage their last checkpoint stored. Which rows are orphans is told by the
-- process that generates them: each sessions process has an id, writes it on the answers it
-- generates and keeps a heartbeat row while it lives.
ALTER TABLE sessions.messages ADD COLUMN generator uuid;

-- Infrastructure, not tenant data: no tenant_id, no grant to the application role; reached
-- only through the definer functions below.
CREATE TABLE sessions.generators (
  id uuid PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE sessions.generators ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions.generators FORCE ROW LEVEL SECURITY;
CREATE POLICY generators_definer_all ON sessions.generators TO CURRENT_USER USING (true) WITH CHECK (true);
-- The repair reads STREAMING answers of every tenant, as ids only (the update itself runs in
-- the tenant's own scope).
CREATE POLICY messages_definer_read ON sessions.messages FOR SELECT TO CURRENT_USER USING (true);

CREATE INDEX messages_streaming_idx ON sessions.messages (generator) WHERE status = 'STREAMING';

CREATE FUNCTION sessions.generator_seen(generator uuid) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sessions
  AS $$
    INSERT INTO sessions.generators (id) VALUES (generator)
      ON CONFLICT (id) DO UPDATE SET seen_at = clock_timestamp()
  $$;

-- STREAMING answers whose generator is not `self` and has not been seen for `stale_after`
-- (or has no heartbeat row at all). Generators silent for a day are forgotten.
CREATE FUNCTION sessions.interrupted_generations(self uuid, stale_after interval)
  RETURNS TABLE (id uuid, tenant_id uuid, session_id uuid)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, sessions
  AS $$
    DELETE FROM sessions.generators g WHERE g.seen_at < clock_timestamp() - interval '1 day';
    SELECT m.id, m.tenant_id, m.session_id FROM sessions.messages m
     WHERE m.status = 'STREAMING' AND m.generator IS DISTINCT FROM self
       AND NOT EXISTS (SELECT 1 FROM sessions.generators g
                        WHERE g.id = m.generator AND g.seen_at > clock_timestamp() - stale_after)
     ORDER BY m.created_at
  $$;

REVOKE ALL ON FUNCTION sessions.generator_seen(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION sessions.interrupted_generations(uuid, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sessions.generator_seen(uuid) TO soma_app;
GRANT EXECUTE ON FUNCTION sessions.interrupted_generations(uuid, interval) TO soma_app;
