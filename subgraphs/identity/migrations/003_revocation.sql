-- Revocation (docs/security.md §5): a user can be disabled (no sign-in; their tokens are refused
-- at the router), and a role can be taken from a user.
ALTER TABLE identity.users ADD COLUMN disabled_at timestamptz;
GRANT UPDATE (disabled_at) ON identity.users TO soma_app;
GRANT DELETE ON identity.user_roles TO soma_app;
