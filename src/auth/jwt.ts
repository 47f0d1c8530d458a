// HS256 bearer tokens (jose). Claims: sub, role and, for role customer, customerId.
import { jwtVerify, SignJWT } from 'jose';
import { ROLES, type Subject, type UserRole } from './subject.ts';

export class Unauthenticated extends Error {
  override name = 'Unauthenticated';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verified tokens kept at most this long (and never past their own expiry). */
const CACHE_MS = 60_000;
const CACHE_SIZE = 10_000;

export class TokenService {
  private readonly key: Uint8Array;
  /**
   * Tokens that verified, by their exact text (signature included, so only a token this
   * key signed can ever hit), with the time the entry stops being trusted. Clients send
   * the same token on every request; this spares an HMAC and a JSON parse per request.
   */
  private readonly verified = new Map<string, { subject: Subject; until: number }>();

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
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
    this.verified.set(token, { subject, until: Math.min(now + CACHE_MS, exp === undefined ? Infinity : exp * 1000) });
    return subject;
  }

  private async verifyUncached(token: string): Promise<{ subject: Subject; exp?: number }> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (error) {
      throw new Unauthenticated(`invalid token: ${(error as Error).message}`);
    }
    const { sub, role, customerId, exp } = payload;
    if (typeof sub !== 'string' || !sub) throw new Unauthenticated('invalid token: no sub claim');
    if (typeof role !== 'string' || !ROLES.includes(role as UserRole)) {
      throw new Unauthenticated('invalid token: unknown role');
    }
    if (role === 'customer') {
      if (typeof customerId !== 'string' || !UUID.test(customerId)) {
        throw new Unauthenticated('invalid token: a customer token needs a customerId claim');
      }
      return { subject: { sub, role, customerId }, exp: exp as number | undefined };
    }
    return { subject: { sub, role: role as UserRole }, exp: exp as number | undefined };
  }

  sign(subject: Subject, expiresIn = '30d'): Promise<string> {
    return new SignJWT({ role: subject.role, ...(subject.customerId ? { customerId: subject.customerId } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject.sub)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(this.key);
  }
}
