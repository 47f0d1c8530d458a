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
