// npm run migrate: applies the pending migrations to DATABASE_URL, and, when
// READ_DATABASE_URL names another database, the write side's to the first and the read
// side's to the second (src/db/migrate.ts MIGRATION_SIDES).
import { ConfigError, loadConfig } from '../src/config.ts';
import { migrateDatabases } from '../src/db/migrate.ts';

try {
  const config = loadConfig();
  if (!config.databaseUrl)
    throw new ConfigError('npm run migrate needs DATABASE_URL (npm start migrates the embedded default)');
  const applied = await migrateDatabases(config.databaseUrl, config.readDatabaseUrl);
  const line = (where: string, names: string[]) =>
    console.log(`${where}: ${names.length ? `applied ${names.join(', ')}` : 'up to date'}`);
  line(config.readDatabaseUrl ? 'write database' : 'database', applied.write);
  if (config.readDatabaseUrl) line('read database', applied.read);
} catch (error) {
  console.error(error instanceof ConfigError ? `configuration error: ${error.message}` : error);
  process.exit(1);
}
