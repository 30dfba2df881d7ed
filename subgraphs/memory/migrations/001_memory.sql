-- Memory: collections (embedding model + dimension), documents, items (memories and document
-- chunks, with a full-text vector) and their embeddings (pgvector).
-- Tenancy as in identity and sessions: RLS enabled AND forced on every table, keyed on the
-- transaction-local `soma.tenant_id`. Inside a tenant, USER and SESSION scoped rows are also
-- keyed on `soma.user_id` (set by MemoryService in each transaction), so a user never reads
-- another user's private memories even through a query that forgets to filter.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE SCHEMA memory;
GRANT USAGE ON SCHEMA memory TO soma_app;

CREATE TABLE memory.collections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT collections_tenant_name_key UNIQUE (tenant_id, name),
  -- Target of the embeddings' (collection_id, dimension) key: a vector of another dimension
  -- than its collection's cannot be stored, whatever the application does.
  CONSTRAINT collections_id_dimension_key UNIQUE (id, dimension)
);

CREATE TABLE memory.documents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  collection_id uuid NOT NULL REFERENCES memory.collections (id),
  scope_kind text NOT NULL CHECK (scope_kind IN ('TENANT', 'USER', 'SESSION', 'AGENT')),
  scope_id text NOT NULL,
  owner_id text NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  source text CHECK (length(source) <= 2000),
  metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  char_count integer NOT NULL,
  chunk_count integer NOT NULL,
  chunk_size integer NOT NULL,
  chunk_overlap integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE memory.items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  collection_id uuid NOT NULL REFERENCES memory.collections (id),
  scope_kind text NOT NULL CHECK (scope_kind IN ('TENANT', 'USER', 'SESSION', 'AGENT')),
  -- '' for TENANT; the user's subject for USER; the session or agent id otherwise.
  scope_id text NOT NULL,
  -- The subject who stored it.
  owner_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('MEMORY', 'CHUNK')),
  document_id uuid REFERENCES memory.documents (id) ON DELETE CASCADE,
  ordinal integer,
  start_offset integer,
  end_offset integer,
  content text NOT NULL CHECK (length(content) BETWEEN 1 AND 100000),
  metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((kind = 'CHUNK') = (document_id IS NOT NULL))
);

-- The vector index's own table (PgVectorIndex): one row per item, scope columns copied from the
-- item so that a kNN query filters without a join. Untyped `vector`: each collection has its own
-- dimension; the HNSW indexes below cover the dimensions of the models SomaAgent ships.
CREATE TABLE memory.embeddings (
  item_id uuid PRIMARY KEY REFERENCES memory.items (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL,
  collection_id uuid NOT NULL,
  scope_kind text NOT NULL,
  scope_id text NOT NULL,
  owner_id text NOT NULL,
  dimension integer NOT NULL,
  embedding vector NOT NULL,
  CHECK (vector_dims(embedding) = dimension),
  FOREIGN KEY (collection_id, dimension) REFERENCES memory.collections (id, dimension)
);

CREATE INDEX items_page_idx ON memory.items (tenant_id, scope_kind, scope_id, created_at DESC, id DESC);
CREATE INDEX items_document_idx ON memory.items (document_id, ordinal) WHERE document_id IS NOT NULL;
CREATE INDEX items_tsv_idx ON memory.items USING gin (tsv);
CREATE INDEX documents_page_idx ON memory.documents (tenant_id, scope_kind, scope_id, created_at DESC, id DESC);
CREATE INDEX embeddings_scope_idx ON memory.embeddings (tenant_id, collection_id, scope_kind, scope_id);
-- Universal Sentence Encoder lite (the embedded default) is 512-d; all-MiniLM-style servers 384-d.
CREATE INDEX embeddings_hnsw_512 ON memory.embeddings
  USING hnsw ((embedding::vector(512)) vector_cosine_ops) WHERE dimension = 512;
CREATE INDEX embeddings_hnsw_384 ON memory.embeddings
  USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dimension = 384;

ALTER TABLE memory.collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.collections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memory.collections
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['documents', 'items', 'embeddings'] LOOP
    EXECUTE format('ALTER TABLE memory.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE memory.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$
      CREATE POLICY scope_isolation ON memory.%I
        USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid
               AND (scope_kind IN ('TENANT', 'AGENT')
                    OR owner_id = nullif(current_setting('soma.user_id', true), '')))
        WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid
               AND owner_id = nullif(current_setting('soma.user_id', true), ''))
      $p$, t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON memory.collections TO soma_app;
GRANT SELECT, INSERT, DELETE ON memory.documents TO soma_app;
GRANT SELECT, INSERT, DELETE ON memory.items TO soma_app;
GRANT SELECT, INSERT, DELETE ON memory.embeddings TO soma_app;
