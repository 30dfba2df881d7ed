import { randomUUID } from 'node:crypto';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { DataScope, EventBus, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { apiKeyPrefix, generateApiKeySecret, hashApiKeySecret } from './apiKeySecret';
import {
  ALL_CAPABILITIES,
  hasCapability,
  IdentityCapability,
  MEMBER_CAPABILITIES,
  missingCapabilities,
  unionCapabilities,
} from './capabilities';
import {
  API_KEY_COLUMNS,
  type ApiKeyRow,
  CURSOR_TS,
  type Emit,
  isUniqueViolation,
  notFound,
  type Paged,
  ROLE_COLUMNS,
  type RoleRow,
  type TenantRow,
  toApiKey,
  toRole,
  toTenant,
  toUser,
  transact,
  USER_COLUMNS,
  type UserRow,
} from './identityRows';
import type { ApiKeyModel, RoleModel, TenantModel, UserModel } from './models';
import { type Connection, pageArgs, toConnection } from './pagination';
import { hashPassword } from './passwords';
import { type RevocationList, recordRevocation } from './RevocationList';
import type { SigningKeyStore } from './SigningKeyStore';
import {
  checkCapabilities,
  checkPassword,
  checkRoleName,
  checkSlug,
  checkText,
  isUuid,
  normaliseEmail,
} from './validation';

export interface IdentityServiceOptions {
  db: SqlDatabase;
  events: EventBus;
  keys: SigningKeyStore;
  knownCapabilities: ReadonlySet<string>;
  revocations: RevocationList;
}

/**
 * The identity domain. Every method runs in ONE `withScope` transaction (so a failure writes
 * nothing) and publishes its events only after that transaction committed.
 */
export class IdentityService {
  constructor(private readonly o: IdentityServiceOptions) {}

  // ---------------------------------------------------------------- authorisation helpers

  /** The caller's claims, or UNAUTHENTICATED. */
  authenticated(claims: VerifiedClaims | null): VerifiedClaims {
    if (!claims) {
      throw new SomaError(
        'UNAUTHENTICATED',
        'this field needs an access token: sign in or exchange an API key',
      );
    }
    return claims;
  }

  /** Claims of a caller acting on a tenant and holding `capability`; otherwise UNAUTHENTICATED/FORBIDDEN. */
  authorise(
    claims: VerifiedClaims | null,
    capability: IdentityCapability,
  ): VerifiedClaims & { tenantId: string } {
    const c = this.authenticated(claims);
    if (!hasCapability(c.capabilities, capability)) {
      throw new SomaError('FORBIDDEN', `missing capability "${capability}": ask a tenant admin to grant it`, {
        capability,
      });
    }
    if (!c.tenantId) {
      throw new SomaError('FORBIDDEN', 'this field acts on a tenant: use a token issued for a tenant', {
        capability,
      });
    }
    return c as VerifiedClaims & { tenantId: string };
  }

  private requirePlatformAdmin(claims: VerifiedClaims | null): VerifiedClaims {
    const c = this.authenticated(claims);
    if (!c.platformAdmin) {
      throw new SomaError(
        'FORBIDDEN',
        'only a platform administrator may do this (exchange the platform admin key)',
      );
    }
    return c;
  }

  /** You can only grant capabilities you hold. */
  private requireGrantable(claims: VerifiedClaims, wanted: readonly string[]): void {
    const missing = missingCapabilities(claims.capabilities, wanted);
    if (missing.length > 0) {
      throw new SomaError(
        'FORBIDDEN',
        `you can only grant capabilities you hold; missing: ${missing.map((c) => `"${c}"`).join(', ')}`,
        { capability: missing[0], missing },
      );
    }
  }

  private scopeOf = (claims: VerifiedClaims): DataScope => ({
    tenantId: claims.tenantId,
    platformAdmin: claims.platformAdmin,
  });

  private transact<T>(scope: DataScope, work: (tx: SqlExecutor, emit: Emit) => Promise<T>): Promise<T> {
    return transact(this.o.db, this.o.events, scope, work);
  }

  // ---------------------------------------------------------------- reads

  async tenant(claims: VerifiedClaims | null, id?: string): Promise<TenantModel | null> {
    const c = this.authenticated(claims);
    const tenantId = id ?? c.tenantId;
    if (!tenantId || !isUuid(tenantId)) return null;
    const { rows } = await this.o.db.withScope(this.scopeOf(c), (tx) =>
      tx.query<TenantRow>('SELECT id, slug, name, created_at FROM identity.tenants WHERE id = $1', [
        tenantId,
      ]),
    );
    return rows[0] ? toTenant(rows[0]) : null;
  }

  async users(claims: VerifiedClaims | null, args: PageInput): Promise<Connection<UserModel>> {
    const c = this.authorise(claims, IdentityCapability.USERS_READ);
    return this.page(c, 'identity.users', USER_COLUMNS, args, toUser);
  }

  async roles(claims: VerifiedClaims | null, args: PageInput): Promise<Connection<RoleModel>> {
    const c = this.authorise(claims, IdentityCapability.USERS_READ);
    return this.page(c, 'identity.roles', ROLE_COLUMNS, args, toRole);
  }

  async apiKeys(claims: VerifiedClaims | null, args: PageInput): Promise<Connection<ApiKeyModel>> {
    const c = this.authorise(claims, IdentityCapability.APIKEYS_READ);
    return this.page(c, 'identity.api_keys', API_KEY_COLUMNS, args, toApiKey);
  }

  /** NOT_FOUND for ids outside the caller's tenant (RLS hides them). */
  async user(claims: VerifiedClaims | null, id: string): Promise<UserModel> {
    const c = this.authorise(claims, IdentityCapability.USERS_READ);
    const user = await this.o.db.withScope(this.scopeOf(c), (tx) => this.findUser(tx, id));
    if (!user) throw notFound('user', id);
    return user;
  }

  /** Federation entity resolution: a user of the caller's tenant, or null. */
  async userReference(claims: VerifiedClaims | null, id: string): Promise<UserModel | null> {
    const c = this.authenticated(claims);
    if (c.subject !== id) this.authorise(c, IdentityCapability.USERS_READ);
    if (!c.tenantId) return null;
    return this.o.db.withScope(this.scopeOf(c), (tx) => this.findUser(tx, id));
  }

  private async findUser(tx: SqlExecutor, id: string): Promise<UserModel | null> {
    if (!isUuid(id)) return null;
    const { rows } = await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM identity.users t WHERE t.id = $1`, [
      id,
    ]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  private async page<Row extends { id: string }, Node>(
    c: VerifiedClaims,
    table: string,
    columns: string,
    args: PageInput,
    toNode: (row: Row) => Node,
  ): Promise<Connection<Node>> {
    const { first, after } = pageArgs(args);
    return this.o.db.withScope(this.scopeOf(c), async (tx) => {
      const where = after ? 'WHERE (t.created_at, t.id) > ($2::timestamptz, $3::uuid)' : '';
      const params = after ? [first + 1, after.createdAt, after.id] : [first + 1];
      const { rows } = await tx.query<Paged<Row>>(
        `SELECT ${columns}, ${CURSOR_TS} FROM ${table} t ${where} ORDER BY t.created_at, t.id LIMIT $1`,
        params,
      );
      const count = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return toConnection(rows, first, Number(count.rows[0]?.n ?? 0), toNode);
    });
  }

  // ---------------------------------------------------------------- tenants

  async createTenant(
    claims: VerifiedClaims | null,
    input: {
      slug: string;
      name: string;
      adminEmail: string;
      adminPassword: string;
      adminDisplayName: string;
    },
  ): Promise<{ tenant: TenantModel; admin: UserModel }> {
    const c = this.requirePlatformAdmin(claims);
    const slug = checkSlug(input.slug, 'slug');
    const name = checkText(input.name, 'name', 200);
    const email = normaliseEmail(input.adminEmail, 'adminEmail');
    const displayName = checkText(input.adminDisplayName, 'adminDisplayName', 200);
    const passwordHash = await hashPassword(checkPassword(input.adminPassword, 'adminPassword'));
    return this.transact({ tenantId: null, platformAdmin: true }, async (tx, emit) => {
      let tenantRow: TenantRow;
      try {
        const { rows } = await tx.query<TenantRow>(
          'INSERT INTO identity.tenants (slug, name) VALUES ($1, $2) RETURNING id, slug, name, created_at',
          [slug, name],
        );
        tenantRow = rows[0]!;
      } catch (error) {
        if (isUniqueViolation(error, 'tenants_slug_key')) {
          throw new SomaError(
            'CONFLICT',
            `a tenant with slug "${slug}" already exists; choose another slug`,
            {
              field: 'slug',
            },
          );
        }
        throw error;
      }
      // The new tenant's rows must pass its RLS policies: scope the rest of this transaction to it.
      await tx.query(`SELECT set_config('soma.tenant_id', $1, true)`, [tenantRow.id]);
      const { rows: roleRows } = await tx.query<{ id: string; name: string }>(
        `INSERT INTO identity.roles (tenant_id, name, capabilities, builtin)
         VALUES ($1, 'admin', $2::text[], true), ($1, 'member', $3::text[], true)
         RETURNING id, name`,
        [tenantRow.id, [ALL_CAPABILITIES], [...MEMBER_CAPABILITIES]],
      );
      const adminRoleId = roleRows.find((r) => r.name === 'admin')!.id;
      const { rows: userRows } = await tx.query<{ id: string }>(
        `INSERT INTO identity.users (tenant_id, email, display_name, password_hash)
         VALUES ($1, $2, $3, $4) RETURNING id`,
        [tenantRow.id, email, displayName, passwordHash],
      );
      const adminId = userRows[0]!.id;
      await tx.query('INSERT INTO identity.user_roles (tenant_id, user_id, role_id) VALUES ($1, $2, $3)', [
        tenantRow.id,
        adminId,
        adminRoleId,
      ]);
      const admin = (await this.findUser(tx, adminId))!;
      emit('TENANT_CREATED', tenantRow.id, { subjectId: tenantRow.id, actorId: c.subject, slug });
      for (const role of roleRows)
        emit('ROLE_CREATED', tenantRow.id, { subjectId: role.id, actorId: c.subject });
      emit('USER_CREATED', tenantRow.id, { subjectId: adminId, actorId: c.subject });
      emit('ROLE_ASSIGNED', tenantRow.id, { subjectId: adminId, actorId: c.subject, roleName: 'admin' });
      return { tenant: toTenant(tenantRow), admin };
    });
  }

  async rotateSigningKey(claims: VerifiedClaims | null): Promise<{ kid: string }> {
    this.requirePlatformAdmin(claims);
    return this.o.keys.rotate();
  }

  // ---------------------------------------------------------------- users and roles

  async createUser(
    claims: VerifiedClaims | null,
    input: { email: string; displayName: string; password: string; roleNames?: string[] | null },
  ): Promise<UserModel> {
    const c = this.authorise(claims, IdentityCapability.USERS_WRITE);
    const email = normaliseEmail(input.email, 'email');
    const displayName = checkText(input.displayName, 'displayName', 200);
    checkPassword(input.password, 'password');
    const roleNames = [...new Set(input.roleNames ?? ['member'])];
    for (const name of roleNames) checkRoleName(name, 'roleNames');
    const passwordHash = await hashPassword(input.password);
    return this.transact(this.scopeOf(c), async (tx, emit) => {
      const roles = await this.rolesByName(tx, roleNames);
      this.requireGrantable(c, unionCapabilities(roles.map((r) => r.capabilities)));
      let userId: string;
      try {
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO identity.users (tenant_id, email, display_name, password_hash)
           VALUES ($1, $2, $3, $4) RETURNING id`,
          [c.tenantId, email, displayName, passwordHash],
        );
        userId = rows[0]!.id;
      } catch (error) {
        if (isUniqueViolation(error, 'users_tenant_email_key')) {
          throw new SomaError('CONFLICT', `a user with email "${email}" already exists in this tenant`, {
            field: 'email',
          });
        }
        throw error;
      }
      for (const role of roles) {
        await tx.query('INSERT INTO identity.user_roles (tenant_id, user_id, role_id) VALUES ($1, $2, $3)', [
          c.tenantId,
          userId,
          role.id,
        ]);
      }
      emit('USER_CREATED', c.tenantId, { subjectId: userId, actorId: c.subject });
      for (const role of roles) {
        emit('ROLE_ASSIGNED', c.tenantId, { subjectId: userId, actorId: c.subject, roleName: role.name });
      }
      return (await this.findUser(tx, userId))!;
    });
  }

  private async rolesByName(tx: SqlExecutor, names: readonly string[]): Promise<RoleModel[]> {
    if (names.length === 0) return [];
    const { rows } = await tx.query<RoleRow>(
      `SELECT ${ROLE_COLUMNS} FROM identity.roles t WHERE t.name = ANY($1::text[]) ORDER BY t.name`,
      [[...names]],
    );
    const missing = names.filter((n) => !rows.some((r) => r.name === n));
    if (missing.length > 0) {
      throw new SomaError(
        'BAD_USER_INPUT',
        `role "${missing[0]}" does not exist in this tenant; create it first`,
        {
          field: 'roleNames',
        },
      );
    }
    return rows.map(toRole);
  }

  async createRole(
    claims: VerifiedClaims | null,
    input: { name: string; capabilities: string[] },
  ): Promise<RoleModel> {
    const c = this.authorise(claims, IdentityCapability.ROLES_WRITE);
    const name = checkRoleName(input.name, 'name');
    const capabilities = checkCapabilities(input.capabilities, this.o.knownCapabilities, 'capabilities');
    this.requireGrantable(c, capabilities);
    return this.transact(this.scopeOf(c), async (tx, emit) => {
      try {
        const { rows } = await tx.query<RoleRow>(
          `INSERT INTO identity.roles AS t (tenant_id, name, capabilities) VALUES ($1, $2, $3::text[])
           RETURNING ${ROLE_COLUMNS}`,
          [c.tenantId, name, capabilities],
        );
        const role = toRole(rows[0]!);
        emit('ROLE_CREATED', c.tenantId, { subjectId: role.id, actorId: c.subject, name });
        return role;
      } catch (error) {
        if (isUniqueViolation(error, 'roles_tenant_name_key')) {
          throw new SomaError('CONFLICT', `a role named "${name}" already exists in this tenant`, {
            field: 'name',
          });
        }
        throw error;
      }
    });
  }

  async assignRole(claims: VerifiedClaims | null, userId: string, roleName: string): Promise<UserModel> {
    const c = this.authorise(claims, IdentityCapability.ROLES_WRITE);
    checkRoleName(roleName, 'roleName');
    return this.transact(this.scopeOf(c), async (tx, emit) => {
      if (!(await this.findUser(tx, userId))) throw notFound('user', userId);
      const { rows } = await tx.query<RoleRow>(
        `SELECT ${ROLE_COLUMNS} FROM identity.roles t WHERE t.name = $1`,
        [roleName],
      );
      const role = rows[0];
      if (!role) throw notFound('role', roleName);
      this.requireGrantable(c, role.capabilities);
      const inserted = await tx.query(
        `INSERT INTO identity.user_roles (tenant_id, user_id, role_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING`,
        [c.tenantId, userId, role.id],
      );
      if (inserted.rowCount > 0) {
        emit('ROLE_ASSIGNED', c.tenantId, { subjectId: userId, actorId: c.subject, roleName });
      }
      return (await this.findUser(tx, userId))!;
    });
  }

  // ---------------------------------------------------------------- API keys

  async createApiKey(
    claims: VerifiedClaims | null,
    input: { name: string; capabilities: string[] },
  ): Promise<{ apiKey: ApiKeyModel; secret: string }> {
    const c = this.authorise(claims, IdentityCapability.APIKEYS_WRITE);
    const name = checkText(input.name, 'name', 100);
    const capabilities = checkCapabilities(input.capabilities, this.o.knownCapabilities, 'capabilities');
    if (capabilities.length === 0) {
      throw new SomaError('BAD_USER_INPUT', 'capabilities must name at least one capability', {
        field: 'capabilities',
      });
    }
    this.requireGrantable(c, capabilities);
    const keyId = randomUUID();
    const secret = generateApiKeySecret(c.tenantId, keyId);
    return this.transact(this.scopeOf(c), async (tx, emit) => {
      const { rows } = await tx.query<ApiKeyRow>(
        `INSERT INTO identity.api_keys AS t (id, tenant_id, name, prefix, secret_hash, capabilities, created_by)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7) RETURNING ${API_KEY_COLUMNS}`,
        [keyId, c.tenantId, name, apiKeyPrefix(keyId), hashApiKeySecret(secret), capabilities, c.subject],
      );
      emit('API_KEY_CREATED', c.tenantId, { subjectId: keyId, actorId: c.subject, name });
      return { apiKey: toApiKey(rows[0]!), secret };
    });
  }

  async revokeApiKey(claims: VerifiedClaims | null, id: string): Promise<ApiKeyModel> {
    const c = this.authorise(claims, IdentityCapability.APIKEYS_WRITE);
    if (!isUuid(id)) throw notFound('API key', id);
    const key = await this.transact(this.scopeOf(c), async (tx, emit) => {
      const revoked = await tx.query<ApiKeyRow>(
        `UPDATE identity.api_keys AS t SET revoked_at = now() WHERE t.id = $1 AND t.revoked_at IS NULL
         RETURNING ${API_KEY_COLUMNS}`,
        [id],
      );
      if (revoked.rows[0]) {
        await recordRevocation(tx, 'api_key', id);
        emit('API_KEY_REVOKED', c.tenantId, { subjectId: id, actorId: c.subject });
        return toApiKey(revoked.rows[0]);
      }
      const { rows } = await tx.query<ApiKeyRow>(
        `SELECT ${API_KEY_COLUMNS} FROM identity.api_keys t WHERE t.id = $1`,
        [id],
      );
      if (!rows[0]) throw notFound('API key', id);
      return toApiKey(rows[0]);
    });
    // The key's tokens are refused at the router from now on (its id is their subject).
    this.o.revocations.revoke(id);
    return key;
  }

  // ---------------------------------------------------------------- revocation

  /** Disables a user: no more sign-ins, and the tokens they hold are refused. Idempotent. */
  async disableUser(claims: VerifiedClaims | null, id: string): Promise<UserModel> {
    const c = this.authorise(claims, IdentityCapability.USERS_WRITE);
    const user = await this.transact(this.scopeOf(c), async (tx, emit) => {
      const target = await this.findUser(tx, id);
      if (!target) throw notFound('user', id);
      // Nobody disables someone who holds more than they do (an admin, for a user manager).
      this.requireGrantable(c, target.capabilities);
      const { rowCount } = await tx.query(
        'UPDATE identity.users SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL',
        [id],
      );
      if (rowCount > 0) {
        await recordRevocation(tx, 'user', id);
        emit('USER_DISABLED', c.tenantId, { subjectId: id, actorId: c.subject });
      }
      return (await this.findUser(tx, id))!;
    });
    this.o.revocations.revoke(id);
    return user;
  }

  /** Takes a role from a user; the tokens they hold (which carry the old capabilities) are refused. */
  async unassignRole(claims: VerifiedClaims | null, userId: string, roleName: string): Promise<UserModel> {
    const c = this.authorise(claims, IdentityCapability.ROLES_WRITE);
    let removed = false;
    const user = await this.transact(this.scopeOf(c), async (tx, emit) => {
      if (!(await this.findUser(tx, userId))) throw notFound('user', userId);
      const { rows } = await tx.query<RoleRow>(
        `SELECT ${ROLE_COLUMNS} FROM identity.roles t WHERE t.name = $1`,
        [roleName],
      );
      const role = rows[0];
      if (!role) throw notFound('role', roleName);
      this.requireGrantable(c, role.capabilities);
      const deleted = await tx.query('DELETE FROM identity.user_roles WHERE user_id = $1 AND role_id = $2', [
        userId,
        role.id,
      ]);
      removed = deleted.rowCount > 0;
      if (removed) await recordRevocation(tx, 'user', userId);
      if (removed) emit('ROLE_UNASSIGNED', c.tenantId, { subjectId: userId, actorId: c.subject, roleName });
      return (await this.findUser(tx, userId))!;
    });
    // A role the user did not hold changes nothing their tokens carry.
    if (removed) this.o.revocations.revoke(userId);
    return user;
  }
}

export interface PageInput {
  first?: number | null;
  after?: string | null;
}
