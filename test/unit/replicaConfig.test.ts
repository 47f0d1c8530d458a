import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('READ_REPLICA_URLS', () => {
  it('takes comma-separated postgres URLs, none by default', () => {
    expect(loadConfig({}).readReplicas).toEqual({ urls: [], maxLagMs: 5_000, checkMs: 1_000, waitMs: 500 });
    const config = loadConfig({
      READ_REPLICA_URLS: ' postgres://a:b@r1:5432/p , postgresql://r2/p ',
      READ_REPLICA_MAX_LAG_MS: '2000',
    });
    expect(config.readReplicas.urls).toEqual(['postgres://a:b@r1:5432/p', 'postgresql://r2/p']);
    expect(config.readReplicas.maxLagMs).toBe(2_000);
  });

  it('refuses anything else, without echoing a password', () => {
    expect(() => loadConfig({ READ_REPLICA_URLS: 'postgres://r1/p,mysql://u:secret@r2/p' })).toThrow(ConfigError);
    expect(() => loadConfig({ READ_REPLICA_URLS: 'postgres://r1/p,mysql://u:secret@r2/p' })).toThrow(
      /mysql:\/\/\*\*\*@r2\/p/,
    );
    expect(() => loadConfig({ READ_REPLICA_URLS: 'not a url' })).toThrow(ConfigError);
    expect(() => loadConfig({ READ_REPLICA_WAIT_MS: '-1' })).toThrow(ConfigError);
  });
});

describe('READ_DATABASE_URL', () => {
  const write = 'postgres://u:p@writer:5432/parallax';
  const read = 'postgres://u:p@reader:5432/parallax_read';

  it('is one database unless it names another', () => {
    expect(loadConfig({ DATABASE_URL: write }).readDatabaseUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: write, READ_DATABASE_URL: write }).readDatabaseUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: write, READ_DATABASE_URL: read }).readDatabaseUrl).toBe(read);
  });

  it('refuses an INLINE projection with a separate read database, naming it', () => {
    const env = { DATABASE_URL: write, READ_DATABASE_URL: read, PROJECTION_MODES: 'order_list_view=INLINE' };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/order_list_view INLINE.*Unset READ_DATABASE_URL or make it ASYNC/);
    // ASYNC named explicitly is fine; so is INLINE on one database.
    expect(loadConfig({ ...env, PROJECTION_MODES: 'order_list_view=ASYNC' }).readDatabaseUrl).toBe(read);
    expect(loadConfig({ ...env, READ_DATABASE_URL: write }).projectionModes).toEqual({ order_list_view: 'INLINE' });
  });

  it('refuses a bad URL without its password, and a read database without a write one', () => {
    expect(() => loadConfig({ DATABASE_URL: write, READ_DATABASE_URL: 'mysql://u:secret@r/p' })).toThrow(
      /READ_DATABASE_URL must be a postgres:\/\/ URL, got "mysql:\/\/\*\*\*@r\/p"/,
    );
    expect(() => loadConfig({ READ_DATABASE_URL: read })).toThrow(/needs DATABASE_URL/);
  });
});
