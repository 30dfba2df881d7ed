-- Usage records (one per settled hold, written in the settlement's transaction) and the
-- transactional outbox of their `billing.usage` events, relayed to the event bus by
-- BillingOutboxRelay (Kafka in distributed mode). Tenancy as in 001.

CREATE TABLE billing.usage_records (
  hold_id uuid PRIMARY KEY REFERENCES billing.holds (id),
  tenant_id uuid NOT NULL,
  budget_ids uuid[] NOT NULL,
  subjects jsonb NOT NULL,
  purpose text,
  model text CHECK (length(model) BETWEEN 1 AND 200),
  tool text CHECK (length(tool) BETWEEN 1 AND 200),
  prompt_tokens integer CHECK (prompt_tokens >= 0),
  completion_tokens integer CHECK (completion_tokens >= 0),
  latency_ms integer CHECK (latency_ms >= 0),
  cost_micros bigint NOT NULL CHECK (cost_micros >= 0),
  created_at timestamptz NOT NULL
);

CREATE TABLE billing.outbox (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  topic text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz
);

CREATE INDEX usage_records_page_idx ON billing.usage_records (tenant_id, created_at);
CREATE INDEX outbox_unpublished_idx ON billing.outbox (id) WHERE published_at IS NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['usage_records', 'outbox'] LOOP
    EXECUTE format('ALTER TABLE billing.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE billing.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$
      CREATE POLICY tenant_isolation ON billing.%I
        USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
      $p$, t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON billing.usage_records TO soma_app;
GRANT SELECT, INSERT ON billing.outbox TO soma_app;
GRANT USAGE ON SEQUENCE billing.outbox_id_seq TO soma_app;

-- The relay publishes every tenant's events: these two definer functions are its only way past
-- the tenant policy, and they hand out nothing but pending outbox rows.
CREATE FUNCTION billing.outbox_pending(batch integer)
  RETURNS TABLE (id bigint, tenant_id uuid, topic text, type text, payload jsonb, created_at timestamptz)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, billing
  AS $$
    SELECT o.id, o.tenant_id, o.topic, o.type, o.payload, o.created_at FROM billing.outbox o
     WHERE o.published_at IS NULL ORDER BY o.id LIMIT batch FOR UPDATE SKIP LOCKED
  $$;
CREATE FUNCTION billing.outbox_mark_published(ids bigint[]) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, billing
  AS $$ UPDATE billing.outbox SET published_at = clock_timestamp() WHERE id = ANY (ids) $$;
REVOKE ALL ON FUNCTION billing.outbox_pending(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION billing.outbox_mark_published(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing.outbox_pending(integer) TO soma_app;
GRANT EXECUTE ON FUNCTION billing.outbox_mark_published(bigint[]) TO soma_app;
