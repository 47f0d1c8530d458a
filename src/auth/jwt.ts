// HS256 bearer tokens (jose). Claims: sub, role and, for role customer, customerId.
// Beyond the signature a token must expire (`exp`), may not claim a lifetime over
// JWT_MAX_AGE, may not be issued in the future, and must name JWT_ISSUER /
// JWT_AUDIENCE when those are set: a leaked token is then worth a bounded time.
import { createHmac } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { JwtRules } from '../config.ts';
import { ROLES, type Subject, type UserRole } from './subject.ts';

export class Unauthenticated extends Error {
  override name = 'Unauthenticated';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verified tokens kept at most this long (and never past their own expiry). */
const CACHE_MS = 60_000;
const CACHE_SIZE = 10_000;

/** The defaults of JWT_MAX_AGE (24 h) and JWT_CLOCK_SKEW (30 s), no issuer or audience. */
export const DEFAULT_RULES: JwtRules = {
  maxAgeSeconds: 86_400,
  clockSkewSeconds: 30,
  issuer: undefined,
  audience: undefined,
};

export class TokenService {
  private readonly key: Uint8Array;
  /**
   * Tokens that verified, by their exact text (signature included, so only a token this
   * key signed can ever hit), with the time the entry stops being trusted. Clients send
   * the same token on every request; this spares an HMAC and a JSON parse per request.
   */
  private readonly verified = new Map<string, { subject: Subject; until: number }>();

  private readonly rules: JwtRules;

  constructor(secret: string, rules: Partial<JwtRules> = {}) {
    this.key = new TextEncoder().encode(secret);
    this.rules = { ...DEFAULT_RULES, ...rules };
  }

  /**
   * A key for another purpose (e.g. cursor MACs), derived from the token secret: every
   * process with the same JWT_SECRET derives the same key, and no derived key reveals
   * the secret or signs a token.
   */
  deriveKey(purpose: string): Uint8Array {
    return createHmac('sha256', this.key).update(`parallax derived key: ${purpose}`).digest();
  }

  async verify(token: string): Promise<Subject> {
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.until > now) return hit.subject;
      this.verified.delete(token);
    }
    const { subject, exp } = await this.verifyUncached(token);
    if (this.verified.size >= CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { subject, until: Math.min(now + CACHE_MS, exp * 1000) });
    return subject;
  }

  private async verifyUncached(token: string): Promise<{ subject: Subject; exp: number }> {
    let payload: Record<string, unknown>;
    const { maxAgeSeconds, clockSkewSeconds, issuer, audience } = this.rules;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        ...(issuer ? { issuer } : {}),
        ...(audience ? { audience } : {}),
      }));
    } catch (error) {
      throw new Unauthenticated(`invalid token: ${(error as Error).message}`);
    }
    const { sub, role, customerId, exp, iat } = payload;
    // jose has checked that exp (and iat, when present) are numbers and exp is not past.
    const now = Math.floor(Date.now() / 1000);
    if (typeof iat === 'number' && iat > now + clockSkewSeconds) {
      throw new Unauthenticated('invalid token: issued in the future (iat)');
    }
    const lifetime = typeof iat === 'number' ? (exp as number) - iat : (exp as number) - now;
    if (lifetime > maxAgeSeconds + (typeof iat === 'number' ? 0 : clockSkewSeconds)) {
      throw new Unauthenticated(`invalid token: lives longer than the ${maxAgeSeconds} s allowed (exp - iat)`);
    }
    if (typeof sub !== 'string' || !sub) throw new Unauthenticated('invalid token: no sub claim');
    if (typeof role !== 'string' || !ROLES.includes(role as UserRole)) {
      throw new Unauthenticated('invalid token: unknown role');
    }
    if (role === 'customer') {
      if (typeof customerId !== 'string' || !UUID.test(customerId)) {
        throw new Unauthenticated('invalid token: a customer token needs a customerId claim');
      }
      return { subject: { sub, role, customerId }, exp: exp as number };
    }
    return { subject: { sub, role: role as UserRole }, exp: exp as number };
  }

  /** A token these rules accept: it expires after `expiresIn` (default: the longest lifetime allowed). */
  sign(subject: Subject, expiresIn: string | number = this.rules.maxAgeSeconds): Promise<string> {
    // One clock reading for iat and exp: exp - iat is then exactly the lifetime asked for.
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ role: subject.role, ...(subject.customerId ? { customerId: subject.customerId } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject.sub)
      .setIssuedAt(now)
      .setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn);
    if (this.rules.issuer) jwt.setIssuer(this.rules.issuer);
    if (this.rules.audience) jwt.setAudience(this.rules.audience);
    return jwt.sign(this.key);
  }
}
