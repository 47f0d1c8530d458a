import { createGraphQLError } from 'graphql-yoga';

/** Opaque page cursors: base64url JSON of the keyset values. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: ('string' | 'number')[]): unknown[] {
  try {
    if (cursor.length > 500) throw new Error('too long');
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(values) || values.length !== shape.length) throw new Error('shape');
    values.forEach((v, i) => {
      if (typeof v !== shape[i]) throw new Error('type');
    });
    return values;
  } catch {
    throw createGraphQLError('invalid cursor', { extensions: { code: 'BAD_USER_INPUT', argument: 'after' } });
  }
}

export function badInput(message: string, argument: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argument } });
}

export const PAGE_MAX = 200;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > PAGE_MAX) throw badInput(`first must be 1 to ${PAGE_MAX}`, 'first');
  return n;
}
