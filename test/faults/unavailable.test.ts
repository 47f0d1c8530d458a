// What counts as a database outage (retryable UNAVAILABLE) and what does not (a bug:
// masked as INTERNAL_SERVER_ERROR). The fault suite drives the real thing end to end.
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/unavailable.ts';

function withCause(message: string, cause: unknown): Error {
  return Object.assign(new Error(message), { cause });
}

describe('isDatabaseUnavailable', () => {
  it('recognises a server that is down, shutting down or cut off, however it is wrapped', () => {
    const outages: unknown[] = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      // Prisma's pg adapter: the known request error wraps the adapter's error kind.
      Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), {
        code: 'P1001',
        meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } },
      }),
      Object.assign(new Error('Raw query failed. Code: `N/A`.'), {
        code: 'P2010',
        meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } },
      }),
      withCause('command createOrder failed', Object.assign(new Error('x'), { originalCode: '57P01' })),
    ];
    for (const error of outages) expect(isDatabaseUnavailable(error), String(error)).toBe(true);
  });

  it('leaves every other failure alone: constraint violations, bugs, bad SQL, non-errors', () => {
    const others: unknown[] = [
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }),
      Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }),
      new TypeError("Cannot read properties of undefined (reading 'id')"),
      withCause('wrapped', new RangeError('bad')),
      'a string',
      null,
      undefined,
    ];
    for (const error of others) expect(isDatabaseUnavailable(error), String(error)).toBe(false);
  });

  it('does not loop on errors that wrap themselves', () => {
    const error: Error & { cause?: unknown } = new Error('loop');
    error.cause = error;
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
