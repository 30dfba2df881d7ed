/** Capabilities the identity subgraph checks. Stable strings: tokens and stored roles carry them. */
export const IdentityCapability = {
  TENANT_READ: 'identity:tenant:read',
  USERS_READ: 'identity:users:read',
  USERS_WRITE: 'identity:users:write',
  ROLES_WRITE: 'identity:roles:write',
  APIKEYS_READ: 'identity:apikeys:read',
  APIKEYS_WRITE: 'identity:apikeys:write',
  EVENTS_READ: 'identity:events:read',
} as const;
export type IdentityCapability = (typeof IdentityCapability)[keyof typeof IdentityCapability];

/** Grants every capability, present and future. */
export const ALL_CAPABILITIES = '*';

export const IDENTITY_CAPABILITIES: readonly string[] = Object.values(IdentityCapability);

/** Capabilities of the built-in `member` role: read-only identity access. */
export const MEMBER_CAPABILITIES: readonly string[] = [
  IdentityCapability.TENANT_READ,
  IdentityCapability.USERS_READ,
  IdentityCapability.APIKEYS_READ,
  IdentityCapability.EVENTS_READ,
];

/** Whether a holder of `held` may use `capability`. */
export const hasCapability = (held: readonly string[], capability: string): boolean =>
  held.includes(ALL_CAPABILITIES) || held.includes(capability);

/** The capabilities of `wanted` that `held` does not cover (empty when `wanted` ⊆ `held`). */
export function missingCapabilities(held: readonly string[], wanted: readonly string[]): string[] {
  if (held.includes(ALL_CAPABILITIES)) return [];
  return wanted.filter((c) => !held.includes(c));
}

/** Sorted, de-duplicated union; collapses to ['*'] when any set holds '*'. */
export function unionCapabilities(sets: readonly (readonly string[])[]): string[] {
  const all = new Set(sets.flat());
  if (all.has(ALL_CAPABILITIES)) return [ALL_CAPABILITIES];
  return [...all].sort();
}
