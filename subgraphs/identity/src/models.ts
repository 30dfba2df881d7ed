import type { VerifiedClaims } from '@somaagent/internal-auth';

/** Shapes the resolvers return; field names match schema.graphql. */
export interface TenantModel {
  id: string;
  slug: string;
  name: string;
  createdAt: Date;
}

export interface RoleModel {
  id: string;
  name: string;
  capabilities: string[];
  builtin: boolean;
  createdAt: Date;
}

export interface UserModel {
  id: string;
  email: string;
  displayName: string;
  roles: RoleModel[];
  capabilities: string[];
  createdAt: Date;
  disabledAt: Date | null;
}

export interface ApiKeyModel {
  id: string;
  name: string;
  prefix: string;
  capabilities: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface AccessTokenModel {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  expiresAt: Date;
}

/** Types published on the `identity.events` topic. */
export type IdentityEventType =
  | 'TENANT_CREATED'
  | 'USER_CREATED'
  | 'API_KEY_CREATED'
  | 'API_KEY_REVOKED'
  | 'ROLE_CREATED'
  | 'ROLE_ASSIGNED'
  | 'SIGNED_IN'
  | 'SIGN_IN_FAILED'
  | 'SIGN_IN_LOCKED_OUT'
  | 'USER_DISABLED'
  | 'ROLE_UNASSIGNED';

/** Payload of an `identity.events` envelope. */
export interface IdentityEventPayload {
  /** The user, role or API key the event is about. */
  subjectId: string;
  /** Who caused it: user id, API key id or 'platform-admin'. */
  actorId: string;
  [detail: string]: unknown;
}

export const IDENTITY_EVENTS_TOPIC = 'identity.events';

/** `Viewer` resolves from the verified claims. */
export interface ViewerModel {
  claims: VerifiedClaims;
}

export interface IdentityEventModel {
  type: IdentityEventType;
  tenantId: string;
  subjectId: string;
  actorId: string;
  occurredAt: string;
}
