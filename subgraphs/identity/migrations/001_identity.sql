-- Identity: tenants, users, roles, API keys and the platform's token signing keys.
-- Every tenant table has RLS enabled AND forced (the owner is filtered too), keyed on the
-- transaction-local `soma.tenant_id` that SqlDatabase.withScope sets. The application role
-- `soma_app` (created by the migrator) gets only the privileges the resolvers need.

CREATE SCHEMA identity;
GRANT USAGE ON SCHEMA identity TO soma_app;

CREATE TABLE identity.tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Slugs are global: sign-in names the tenant by slug before any tenant is known.
  CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE identity.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES identity.tenants (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (email = lower(email)),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email),
  -- Target of the composite foreign keys below: a row can only point at a row of its own tenant.
  CONSTRAINT users_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE identity.roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES identity.tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  capabilities text[] NOT NULL DEFAULT '{}',
  builtin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT roles_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT roles_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE identity.user_roles (
  tenant_id uuid NOT NULL,
  user_id uuid NOT NULL,
  role_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, role_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES identity.users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, role_id) REFERENCES identity.roles (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE identity.api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES identity.tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  prefix text NOT NULL,
  -- sha256 of the secret: the secret carries 256 random bits, so a slow hash adds nothing.
  secret_hash text NOT NULL,
  capabilities text[] NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT api_keys_tenant_id_key UNIQUE (tenant_id, id)
);

-- Platform-wide (no tenant): every tenant's tokens are signed by the same issuer.
CREATE TABLE identity.signing_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL DEFAULT 'ES256' CHECK (alg = 'ES256'),
  public_jwk jsonb NOT NULL,
  private_jwk jsonb NOT NULL,
  -- clock_timestamp, not now(): two keys made in one transaction must still order.
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Set in the future on rotation: the key stops signing at once but stays in the JWKS until then.
  retired_at timestamptz
);

CREATE INDEX users_tenant_page_idx ON identity.users (tenant_id, created_at, id);
CREATE INDEX roles_tenant_page_idx ON identity.roles (tenant_id, created_at, id);
CREATE INDEX api_keys_tenant_page_idx ON identity.api_keys (tenant_id, created_at, id);
CREATE INDEX user_roles_role_idx ON identity.user_roles (tenant_id, role_id);

ALTER TABLE identity.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE identity.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.users FORCE ROW LEVEL SECURITY;
ALTER TABLE identity.roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.roles FORCE ROW LEVEL SECURITY;
ALTER TABLE identity.user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.user_roles FORCE ROW LEVEL SECURITY;
ALTER TABLE identity.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.api_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY tenants_read ON identity.tenants FOR SELECT
  USING (
    id = nullif(current_setting('soma.tenant_id', true), '')::uuid
    OR current_setting('soma.platform_admin', true) = 'on'
  );
CREATE POLICY tenants_create ON identity.tenants FOR INSERT
  WITH CHECK (current_setting('soma.platform_admin', true) = 'on');
-- The migration owner (and so the SECURITY DEFINER function below) may read every tenant:
-- with FORCE it would otherwise see none when it is not a superuser. `soma_app` cannot become it.
CREATE POLICY tenants_definer_read ON identity.tenants FOR SELECT TO CURRENT_USER USING (true);

CREATE POLICY users_tenant ON identity.users
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);
CREATE POLICY roles_tenant ON identity.roles
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);
CREATE POLICY user_roles_tenant ON identity.user_roles
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);
CREATE POLICY api_keys_tenant ON identity.api_keys
  USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);

-- Sign-in names a tenant by slug before any tenant is in scope. This is the only way to learn
-- a tenant id without being in it, and it reveals nothing but the id.
CREATE FUNCTION identity.tenant_id_for_slug(p_slug text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT t.id FROM identity.tenants t WHERE t.slug = p_slug $$;
REVOKE ALL ON FUNCTION identity.tenant_id_for_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.tenant_id_for_slug(text) TO soma_app;

GRANT SELECT, INSERT ON identity.tenants TO soma_app;
GRANT SELECT, INSERT ON identity.users TO soma_app;
GRANT SELECT, INSERT ON identity.roles TO soma_app;
GRANT SELECT, INSERT ON identity.user_roles TO soma_app;
GRANT SELECT, INSERT ON identity.api_keys TO soma_app;
GRANT UPDATE (last_used_at, revoked_at) ON identity.api_keys TO soma_app;
GRANT SELECT, INSERT ON identity.signing_keys TO soma_app;
GRANT UPDATE (retired_at) ON identity.signing_keys TO soma_app;
