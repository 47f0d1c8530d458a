// The verified-token cache never outlives a token's expiry and never accepts a token
// that is not byte-for-byte one that verified.
import { describe, expect, it, vi } from 'vitest';
import { TokenService, Unauthenticated } from '../../src/auth/jwt.ts';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('verified-token cache', () => {
  it('rejects a cached token once it has expired', async () => {
    // Only Date is faked (signing and promises run for real): with a real clock, a loaded
    // machine could pass the one-second expiry before the first verify.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-01T00:00:00Z') });
    try {
      const tokens = new TokenService(SECRET);
      const token = await tokens.sign({ sub: 'short-lived', role: 'admin' }, '1s');
      expect(await tokens.verify(token)).toEqual({ sub: 'short-lived', role: 'admin' });
      expect(await tokens.verify(token)).toEqual({ sub: 'short-lived', role: 'admin' });
      // JWT expiry has one-second resolution: step past it.
      vi.setSystemTime(new Date('2026-01-01T00:00:02Z'));
      await expect(tokens.verify(token)).rejects.toBeInstanceOf(Unauthenticated);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not accept a tampered copy of a cached token', async () => {
    const tokens = new TokenService(SECRET);
    const token = await tokens.sign({ sub: 'someone', role: 'support' });
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' }),
    ).toString('base64url');
    await expect(tokens.verify(`${header}.${forgedPayload}.${signature}`)).rejects.toBeInstanceOf(Unauthenticated);
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(tokens.verify(`${header}.${payload}.${flipped}`)).rejects.toBeInstanceOf(Unauthenticated);
    // A token from another key never matches a cached entry either.
    const foreign = await new TokenService(`${SECRET}-other`).sign({ sub: 'someone', role: 'support' });
    await expect(tokens.verify(foreign)).rejects.toBeInstanceOf(Unauthenticated);
  });
});
