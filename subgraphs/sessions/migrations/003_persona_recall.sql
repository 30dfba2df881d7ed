-- Personas may recall memory into the prompt; answers remember which memory items they were given.
ALTER TABLE sessions.personas
  ADD COLUMN recall_k integer NOT NULL DEFAULT 0 CHECK (recall_k BETWEEN 0 AND 20);
ALTER TABLE sessions.messages
  ADD COLUMN citations jsonb NOT NULL DEFAULT '[]'::jsonb;
