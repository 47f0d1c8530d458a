// Opaque page cursors. A cursor is the base64url JSON of its keyset values and an HMAC
// over them and the query they page (key derived from JWT_SECRET, so every process of
// a deployment reads every other's cursors). A cursor the server did not make, or made
// for another query, is refused before anything in it is read; its values are then
// checked once more, so no cursor can reach SQL as something other than it claims to be.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createGraphQLError } from 'graphql-yoga';

/** The query a cursor pages: a cursor of one is refused by the others. */
export type CursorKind = 'orders' | 'history' | 'search';

/** What each keyset value must be. */
export type CursorValue = 'timestamp' | 'uuid' | 'offset';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What Date.toISOString() writes, and nothing else. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Search pages by offset; past this no one is paging by hand. */
export const MAX_OFFSET = 1_000_000;
const MAX_LENGTH = 500;
const MAC_BYTES = 16;

export function badInput(message: string, argument: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', argument } });
}

function invalidCursor() {
  return badInput('invalid cursor: pass an endCursor or cursor this API returned', 'after');
}

function valid(kind: CursorValue, value: unknown): boolean {
  switch (kind) {
    case 'timestamp':
      return typeof value === 'string' && ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value));
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'offset':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_OFFSET;
  }
}

export class CursorCodec {
  constructor(private readonly key: Uint8Array) {}

  private mac(kind: CursorKind, body: string): Buffer {
    return createHmac('sha256', this.key).update(`${kind}.${body}`).digest().subarray(0, MAC_BYTES);
  }

  encode(kind: CursorKind, values: (string | number)[]): string {
    const body = Buffer.from(JSON.stringify(values)).toString('base64url');
    return `${body}.${this.mac(kind, body).toString('base64url')}`;
  }

  /** The keyset values of a cursor this server made for `kind`; anything else is BAD_USER_INPUT. */
  decode(kind: CursorKind, cursor: string, shape: CursorValue[]): (string | number)[] {
    if (cursor.length > MAX_LENGTH) throw invalidCursor();
    const [body, mac, ...rest] = cursor.split('.');
    if (!body || !mac || rest.length) throw invalidCursor();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, this.mac(kind, body))) throw invalidCursor();
    let values: unknown;
    try {
      values = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalidCursor();
    }
    if (!Array.isArray(values) || values.length !== shape.length || !values.every((v, i) => valid(shape[i]!, v))) {
      throw invalidCursor();
    }
    return values as (string | number)[];
  }
}

export const PAGE_MAX = 200;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > PAGE_MAX) throw badInput(`first must be 1 to ${PAGE_MAX}`, 'first');
  return n;
}

/** The filter the order lists and search share. */
export interface OrderFilter {
  customerId?: string | null;
  status?: string | null;
  createdFrom?: Date | null;
  createdTo?: Date | null;
  minTotal?: number | null;
  maxTotal?: number | null;
}

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
  /** Rows matching the filter (counted only when asked for). */
  totalCount?: () => Promise<number>;
}
