import { clip, SomaError } from '@somaagent/errors';
import type { DataScope, EventBus, EventEnvelope, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { unionCapabilities } from './capabilities';
import {
  type ApiKeyModel,
  IDENTITY_EVENTS_TOPIC,
  type IdentityEventPayload,
  type IdentityEventType,
  type RoleModel,
  type TenantModel,
  type UserModel,
} from './models';

// Rows of the identity tables, the columns read for them, their models, and the one-transaction
// helper every identity write goes through.

export type Emit = (type: IdentityEventType, tenantId: string, payload: IdentityEventPayload) => void;

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
}
export interface RoleRow {
  id: string;
  name: string;
  capabilities: string[];
  builtin: boolean;
  created_at: Date | string;
}
export interface UserRow {
  id: string;
  email: string;
  display_name: string;
  created_at: Date;
  disabled_at: Date | null;
  roles: RoleRow[] | string;
}
export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  capabilities: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
export type Paged<Row> = Row & { cursor_ts: string };

export const CURSOR_TS = `to_json(t.created_at) #>> '{}' AS cursor_ts`;
export const USER_COLUMNS = `t.id, t.email, t.display_name, t.created_at, t.disabled_at,
  coalesce((SELECT json_agg(json_build_object('id', r.id, 'name', r.name, 'capabilities', r.capabilities,
                                              'builtin', r.builtin, 'created_at', r.created_at) ORDER BY r.name)
              FROM identity.user_roles ur
              JOIN identity.roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
             WHERE ur.tenant_id = t.tenant_id AND ur.user_id = t.id), '[]'::json) AS roles`;
export const ROLE_COLUMNS = 't.id, t.name, t.capabilities, t.builtin, t.created_at';
export const API_KEY_COLUMNS =
  't.id, t.name, t.prefix, t.capabilities, t.created_at, t.last_used_at, t.revoked_at';

export const toTenant = (r: TenantRow): TenantModel => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  createdAt: r.created_at,
});
export const toRole = (r: RoleRow): RoleModel => ({
  id: r.id,
  name: r.name,
  capabilities: r.capabilities,
  builtin: r.builtin,
  createdAt: new Date(r.created_at),
});
export const toUser = (r: UserRow): UserModel => {
  const roles = (typeof r.roles === 'string' ? (JSON.parse(r.roles) as RoleRow[]) : r.roles).map(toRole);
  return {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    roles,
    capabilities: unionCapabilities(roles.map((role) => role.capabilities)),
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
};
export const toApiKey = (r: ApiKeyRow): ApiKeyModel => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  capabilities: r.capabilities,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** PostgreSQL unique_violation, from `pg` and PGlite alike. */
export const isUniqueViolation = (error: unknown, constraint: string): boolean => {
  const e = error as { code?: string; constraint?: string; message?: string };
  return e?.code === '23505' && (e.constraint === constraint || (e.message ?? '').includes(constraint));
};

export const notFound = (what: string, id: string) =>
  new SomaError('NOT_FOUND', `${what} "${clip(id)}" was not found in your tenant`, { id: clip(id) });

/**
 * Runs `work` in one transaction and publishes what it emitted once that committed.
 */
export async function transact<T>(
  db: SqlDatabase,
  events: EventBus,
  scope: DataScope,
  work: (tx: SqlExecutor, emit: Emit) => Promise<T>,
): Promise<T> {
  const pending: EventEnvelope<IdentityEventPayload>[] = [];
  const emit: Emit = (type, tenantId, payload) =>
    pending.push({
      topic: IDENTITY_EVENTS_TOPIC,
      tenantId,
      type,
      payload,
      occurredAt: new Date().toISOString(),
    });
  const result = await db.withScope(scope, (tx) => work(tx, emit));
  for (const event of pending) {
    // The write is committed: failing the mutation now would tell the client it did not
    // happen. A lost event is logged; an outbox would make delivery durable.
    await events.publish(event).catch((error: unknown) => {
      console.error(`[identity] could not publish ${event.type} for tenant ${event.tenantId}`, error);
    });
  }
  return result;
}
