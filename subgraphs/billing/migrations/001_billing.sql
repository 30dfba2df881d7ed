-- Billing: budgets and the ledger of holds (docs/billing.md).
-- A budget keeps two counters for its current period: posted (settled spend) and held (open
-- holds). A hold is placed by one conditional UPDATE over every budget that applies, so
-- posted + held <= limit is checked and changed in the same statement, under the budget rows'
-- locks (taken in id order by the service: no deadlock between two holds).
-- Tenancy as in the other domains: RLS enabled AND forced, keyed on `soma.tenant_id`.

CREATE SCHEMA billing;
GRANT USAGE ON SCHEMA billing TO soma_app;

CREATE TABLE billing.budgets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  scope text NOT NULL CHECK (scope IN ('TENANT', 'USER', 'API_KEY', 'PERSONA', 'CAPSULE', 'PROJECT')),
  -- '' for TENANT; the user's subject, API key, persona, capsule or project id otherwise.
  scope_id text NOT NULL CHECK (length(scope_id) <= 200 AND ((scope = 'TENANT') = (scope_id = ''))),
  period text NOT NULL CHECK (period IN ('DAY', 'MONTH', 'TOTAL')),
  -- 10^15 micro-dollars = one billion dollars; stays an exact JavaScript number.
  limit_micros bigint NOT NULL CHECK (limit_micros BETWEEN 0 AND 1000000000000000),
  -- Soft alerts, in percent of the limit (1..100), ascending.
  alert_thresholds integer[] NOT NULL DEFAULT '{}',
  -- Start of the period posted_micros counts; moved forward by the first hold of a new period.
  period_start timestamptz NOT NULL,
  posted_micros bigint NOT NULL DEFAULT 0 CHECK (posted_micros >= 0),
  held_micros bigint NOT NULL DEFAULT 0 CHECK (held_micros >= 0),
  -- Optimistic concurrency for edits through the graph (CONFLICT on a stale version).
  version integer NOT NULL DEFAULT 1,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT budgets_scope_period_key UNIQUE (tenant_id, scope, scope_id, period)
);

CREATE TABLE billing.holds (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  -- Every budget the hold counts against, by id (the same amount against each).
  budget_ids uuid[] NOT NULL,
  subjects jsonb NOT NULL DEFAULT '{}',
  purpose text CHECK (length(purpose) <= 200),
  amount_micros bigint NOT NULL CHECK (amount_micros BETWEEN 1 AND 1000000000000),
  state text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'SETTLED', 'RELEASED', 'EXPIRED')),
  posted_micros bigint NOT NULL DEFAULT 0 CHECK (posted_micros >= 0),
  released_micros bigint NOT NULL DEFAULT 0 CHECK (released_micros >= 0),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  closed_at timestamptz,
  CONSTRAINT holds_idempotency_key UNIQUE (tenant_id, idempotency_key),
  -- The ledger's invariant, kept by the database whatever the application does:
  -- an open hold has posted and released nothing; a closed one split its whole amount.
  CONSTRAINT holds_amount_split CHECK (
    (state = 'OPEN' AND posted_micros = 0 AND released_micros = 0 AND closed_at IS NULL)
    OR (state <> 'OPEN' AND posted_micros + released_micros = amount_micros AND closed_at IS NOT NULL)
  )
);

CREATE INDEX holds_open_idx ON billing.holds (tenant_id, expires_at) WHERE state = 'OPEN';
CREATE INDEX budgets_page_idx ON billing.budgets (tenant_id, created_at DESC, id DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['budgets', 'holds'] LOOP
    EXECUTE format('ALTER TABLE billing.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE billing.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$
      CREATE POLICY tenant_isolation ON billing.%I
        USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
      $p$, t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON billing.budgets TO soma_app;
GRANT SELECT, INSERT, UPDATE ON billing.holds TO soma_app;
