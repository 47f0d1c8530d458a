import { createHash } from 'node:crypto';

export const ROLES = ['customer', 'support', 'admin'] as const;
export type UserRole = (typeof ROLES)[number];

/** Who is acting: from a verified JWT (claims sub, role and, for customers, customerId). */
export interface Subject {
  sub: string;
  role: UserRole;
  customerId?: string;
}

/**
 * Who the outbox and the logs say acted: the token's `sub` when it is an opaque id;
 * one that looks like an email (some identity providers use the address as the
 * subject) is recorded as `sha256:<first 16 hex digits>`, so no email reaches the
 * audit trail or the logs, while one subject still maps to one id.
 */
export function actorId(subject: Subject): string {
  if (!subject.sub.includes('@')) return subject.sub;
  return `sha256:${createHash('sha256').update(subject.sub).digest('hex').slice(0, 16)}`;
}
