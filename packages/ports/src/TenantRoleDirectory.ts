/**
 * The roles a tenant defines and what each grants, as the identity domain keeps them. The router
 * reads it so an external OIDC identity bound to roles of a tenant receives what those roles grant
 * (RBAC applies to it as to the tenant's own users).
 */
export interface TenantRoleDirectory {
  /**
   * Capabilities of each named role of the tenant. A name the tenant does not define is absent
   * from the result (the caller decides whether that is an error).
   */
  capabilitiesOfRoles(
    tenantId: string,
    roleNames: readonly string[],
  ): Promise<ReadonlyMap<string, readonly string[]>>;
}
