export { loadMigrations } from './loadMigrations';
export { APP_ROLE, applyMigrations } from './migrate';
export { PgliteSqlDatabase, type PgliteSqlDatabaseOptions } from './PgliteSqlDatabase';
export { PostgresSqlDatabase, type PostgresSqlDatabaseOptions } from './PostgresSqlDatabase';
