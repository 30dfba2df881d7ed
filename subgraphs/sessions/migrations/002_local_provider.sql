-- Personas may use the in-process engine (provider LOCAL, node-llama-cpp) next to any
-- OpenAI-compatible server. 001 named the check implicitly (Postgres: personas_provider_check).
ALTER TABLE sessions.personas
  DROP CONSTRAINT personas_provider_check,
  ADD CONSTRAINT personas_provider_check CHECK (provider IN ('OPENAI_COMPATIBLE', 'LOCAL'));
