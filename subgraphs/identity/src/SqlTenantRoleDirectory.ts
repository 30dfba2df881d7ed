import type { SqlDatabase, TenantRoleDirectory } from '@somaagent/ports';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The tenant's roles as identity stores them (identity.roles), read as the application role under
 * the tenant's row-level security, so a lookup can only ever see the tenant it names.
 */
export class SqlTenantRoleDirectory implements TenantRoleDirectory {
  constructor(private readonly db: SqlDatabase) {}

  async capabilitiesOfRoles(
    tenantId: string,
    roleNames: readonly string[],
  ): Promise<ReadonlyMap<string, readonly string[]>> {
    const found = new Map<string, readonly string[]>();
    // Not a tenant id: no tenant has it, so no role of it exists (rather than a SQL cast error).
    if (roleNames.length === 0 || !UUID.test(tenantId)) return found;
    const { rows } = await this.db.withScope({ tenantId }, (tx) =>
      tx.query<{ name: string; capabilities: string[] }>(
        'SELECT name, capabilities FROM identity.roles WHERE name = ANY($1::text[])',
        [[...new Set(roleNames)]],
      ),
    );
    for (const row of rows) found.set(row.name, [...row.capabilities].sort());
    return found;
  }
}
