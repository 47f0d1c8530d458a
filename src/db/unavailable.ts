// Tells a database outage (server down, restarting, connection cut) apart from every
// other failure. A command that fails this way committed nothing it has not reported
// (its transaction either committed before the cut or is rolled back by PostgreSQL),
// so clients may retry it: GraphQL reports it as `UNAVAILABLE` instead of masking it.

/** The `extensions.code` of a GraphQL error caused by a database outage: retry later. */
export const UNAVAILABLE = 'UNAVAILABLE';

/** SQLSTATE classes and codes of a server that is away: connection exceptions, shutdown, start-up, too many clients. */
const SQLSTATE = /^(08...|57P0[1-4]|53300)$/;

/** Node socket errors of a server that cannot be reached. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Prisma error codes for an unreachable server, a dropped connection or a pool that cannot get one. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** Driver adapter error kinds (Prisma's pg adapter) of the same. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** Messages pg and Prisma use for a connection that went away (they carry no code). */
const MESSAGES = [
  /connection terminated/i,
  /not queryable/i,
  /terminating connection/i,
  /can't reach database server/i,
  /server closed the connection unexpectedly/i,
  /the database system is (shutting down|starting up|in recovery mode|not yet accepting connections)/i,
  /timeout exceeded when trying to connect/i,
];

/** True when `error`, or anything it wraps, says the database is unreachable or went away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length) {
    const e = pending.pop();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const record = e as Record<string, unknown>;
    const code = typeof record.code === 'string' ? record.code : undefined;
    if (code && (SQLSTATE.test(code) || SOCKET_CODES.has(code) || PRISMA_CODES.has(code))) return true;
    if (typeof record.originalCode === 'string' && SQLSTATE.test(record.originalCode)) return true;
    if (typeof record.kind === 'string' && ADAPTER_KINDS.has(record.kind)) return true;
    if (typeof record.message === 'string' && MESSAGES.some((m) => m.test(record.message as string))) return true;
    pending.push(record.cause, record.originalError, record.meta);
    const meta = record.meta as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object') pending.push(meta.driverAdapterError);
    if (Array.isArray(record.errors)) pending.push(...record.errors);
  }
  return false;
}
