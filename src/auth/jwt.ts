// HS256 bearer tokens (jose). Claims: sub, role and, for role customer, customerId.
import { jwtVerify, SignJWT } from 'jose';
import { ROLES, type Subject, type UserRole } from './subject.ts';

export class Unauthenticated extends Error {
  override name = 'Unauthenticated';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class TokenService {
  private readonly key: Uint8Array;
  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<Subject> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (error) {
      throw new Unauthenticated(`invalid token: ${(error as Error).message}`);
    }
    const { sub, role, customerId } = payload;
    if (typeof sub !== 'string' || !sub) throw new Unauthenticated('invalid token: no sub claim');
    if (typeof role !== 'string' || !ROLES.includes(role as UserRole)) {
      throw new Unauthenticated('invalid token: unknown role');
    }
    if (role === 'customer') {
      if (typeof customerId !== 'string' || !UUID.test(customerId)) {
        throw new Unauthenticated('invalid token: a customer token needs a customerId claim');
      }
      return { sub, role, customerId };
    }
    return { sub, role: role as UserRole };
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
