import type { Subject } from './subject.ts';

/** j***@example.com: keeps the first character and the domain. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/** Admins and the customer itself see the email whole; support sees it masked; other customers not at all. */
export function emailFor(subject: Subject | null, ownerCustomerId: string, email: string | null): string | null {
  if (email === null || !subject) return null;
  if (subject.role === 'admin') return email;
  if (subject.role === 'support') return maskEmail(email);
  return subject.customerId === ownerCustomerId ? email : null;
}
