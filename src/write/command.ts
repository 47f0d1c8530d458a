// Runs one command as one PostgreSQL transaction: lock → load → decide → persist →
// append to the outbox (→ inline projections) → commit. Either all of it commits or
// none of it does.
import { createHash } from 'node:crypto';
import { context, SpanStatusCode, type Context as TraceContext, trace } from '@opentelemetry/api';
import type pg from 'pg';
import { actorId, type Subject } from '../auth/subject.ts';
import type { PrismaClient, TransactionClient } from '../db/prisma.ts';
import { pgSql, prismaSql, type Sql } from '../db/sql.ts';
import { DomainError, Forbidden, ValidationError } from '../errors.ts';
import type { PendingEvent } from '../events/events.ts';
import { endWithError, tracer } from '../observability/tracing.ts';
import { appendToOutbox, OUTBOX_CHANNEL, type StoredEvent } from '../outbox/append.ts';
import { encodePosition } from '../outbox/position.ts';

export interface CommandHooks {
  /** Runs inside the command's transaction after its events are appended (inline projections, tests). */
  afterAppend?: Array<(tx: TransactionClient, events: StoredEvent[], command: string) => Promise<void>>;
}

export interface CommandContext {
  prisma: PrismaClient;
  /** The pg pool under `prisma`: commands that need only SQL run on it directly (see runSqlCommand). */
  pool?: pg.Pool;
  subject: Subject;
  /** The OpenTelemetry context to run in (the GraphQL operation's span); else the active one. */
  trace?: TraceContext | null;
  hooks: CommandHooks;
  /** Called after commit with the committed events (after-commit notification). */
  onCommitted?: (events: StoredEvent[]) => void;
  /** NOTIFY projection engines inside the command transaction (see outbox/notifier.ts for the default). */
  notifyInTransaction?: boolean;
}

export interface CommandSpec {
  command: string;
  /**
   * Aggregates this command reads-then-writes. Locked (transaction-scoped advisory
   * locks, in sorted order) before anything else in the transaction, so the
   * transaction id is assigned only after the lock is held. That makes the outbox's
   * (tx_id, seq) order agree with each aggregate's version order, which the
   * projections rely on.
   */
  locks: string[];
  idempotency?: { key: string; input: unknown };
}

export type CommandResult<R> = R & { position: string };

function hashInput(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('hex');
}

type Body<T, R> = (tx: T) => Promise<{ events: PendingEvent[]; result: R }>;

/** Runs a command whose body uses Prisma's model API, in a Prisma interactive transaction. */
export function runCommand<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: Body<TransactionClient, R>,
): Promise<CommandResult<R>> {
  return traced(ctx, spec, (traceContext) => inPrismaTransaction(ctx, spec, body, traceContext));
}

/**
 * Runs a command whose body needs nothing but SQL (the hot commands). Without inline
 * hooks it runs on a plain pg connection of the pool Prisma also uses: the same
 * statements, without Prisma's per-query cost. With inline hooks, which are given a
 * Prisma transaction, it runs in one like runCommand.
 */
export function runSqlCommand<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: Body<Sql, R>,
): Promise<CommandResult<R>> {
  return traced(ctx, spec, (traceContext) =>
    ctx.pool && !ctx.hooks.afterAppend?.length
      ? inPgTransaction(ctx, ctx.pool, spec, body, traceContext)
      : inPrismaTransaction(ctx, spec, (tx) => body(prismaSql(tx)), traceContext),
  );
}

function traced<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  run: (traceContext: TraceContext) => Promise<CommandResult<R>>,
): Promise<CommandResult<R>> {
  const parent = ctx.trace ?? context.active();
  return tracer().startActiveSpan(
    `command ${spec.command}`,
    { attributes: { 'parallax.command': spec.command } },
    parent,
    async (span) => {
      try {
        const result = await run(trace.setSpan(parent, span));
        span.setAttribute('parallax.position', result.position);
        span.setStatus({ code: SpanStatusCode.OK });
        span.end();
        return result;
      } catch (error) {
        endWithError(span, error, error instanceof DomainError);
        throw error;
      }
    },
  );
}

/** How long a command waits for a connection, and how long its transaction may run. */
const MAX_WAIT_MS = 10_000;
const TIMEOUT_MS = 30_000;

async function inPrismaTransaction<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: Body<TransactionClient, R>,
  traceContext: TraceContext,
): Promise<CommandResult<R>> {
  // No isolation level is set: commands run in PostgreSQL's default, READ COMMITTED,
  // and setting it would cost a statement per command.
  const { outcome, stored } = await ctx.prisma.$transaction(
    (tx) => {
      const sql = prismaSql(tx);
      return transactionBody(ctx, spec, beginIn(sql), sql, () => body(tx), traceContext, tx);
    },
    { maxWait: MAX_WAIT_MS, timeout: TIMEOUT_MS },
  );
  if (stored.length) ctx.onCommitted?.(stored);
  return outcome;
}

async function inPgTransaction<R extends Record<string, unknown>>(
  ctx: CommandContext,
  pool: pg.Pool,
  spec: CommandSpec,
  body: Body<Sql, R>,
  traceContext: TraceContext,
): Promise<CommandResult<R>> {
  const client = await connect(pool);
  let broken: Error | undefined;
  try {
    const deadline = Date.now() + TIMEOUT_MS;
    const sql = withDeadline(pgSql(client), deadline, spec.command);
    let result: { outcome: CommandResult<R>; stored: StoredEvent[] };
    try {
      result = await transactionBody(ctx, spec, beginOn(client), sql, () => body(sql), traceContext, null);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        // The connection is gone (the transaction with it): the pool must not reuse it.
        broken = rollbackError;
      });
      throw error;
    }
    if (result.stored.length) ctx.onCommitted?.(result.stored);
    return result.outcome;
  } finally {
    client.release(broken);
  }
}

/** A pool connection, or after MAX_WAIT_MS an error (the connection, if it comes later, goes back). */
async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const pending = pool.connect();
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          pending.then((client) => client.release()).catch(() => {});
          reject(new Error(`timeout exceeded when trying to connect: no connection within ${MAX_WAIT_MS} ms`));
        }, MAX_WAIT_MS);
      }),
    ]);
  } finally {
    if (!timedOut) clearTimeout(timer);
  }
}

/** Fails any statement after the transaction's deadline (it is then rolled back), as Prisma's timeout does. */
function withDeadline(sql: Sql, deadline: number, command: string): Sql {
  const check = () => {
    if (Date.now() > deadline) throw new Error(`${command} transaction ran longer than ${TIMEOUT_MS} ms`);
  };
  return {
    query: async (text, params) => {
      check();
      return sql.query(text, params);
    },
    execute: async (text, params) => {
      check();
      return sql.execute(text, params);
    },
  };
}

async function isErased(sql: Sql, customerId: string): Promise<boolean> {
  const rows = await sql.query<{ erased: boolean }>(
    'SELECT erased_at IS NOT NULL AS erased FROM customers WHERE id = $1::uuid',
    [customerId],
  );
  return rows[0]?.erased ?? false;
}

interface IdempotencyRecord {
  request_hash: string;
  result: Record<string, unknown>;
}

/**
 * The command's first statement: takes its locks (transaction-scoped advisory locks,
 * sorted) and returns the idempotency record stored under its key, if any. One
 * statement, a function call (see the command_begin migration for why a function).
 */
type Begin = (locks: string[], command: string, key: string | null) => Promise<IdempotencyRecord | undefined>;

const COMMAND_BEGIN = 'SELECT request_hash, result FROM command_begin($1::text[], $2, $3)';

/** In a transaction someone else began (Prisma). */
function beginIn(sql: Sql): Begin {
  return async (locks, command, key) =>
    locks.length ? (await sql.query<IdempotencyRecord>(COMMAND_BEGIN, [locks, command, key]))[0] : undefined;
}

/** READ COMMITTED is PostgreSQL's default; said here, where it costs no statement. */
const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED';

/**
 * On a plain pg connection: BEGIN and the command_begin call in one round trip, a
 * simple-protocol query of two statements (so its arguments are inlined, as escaped
 * literals).
 */
function beginOn(client: pg.PoolClient): Begin {
  return async (locks, command, key) => {
    if (!locks.length) {
      await client.query(BEGIN);
      return undefined;
    }
    const literal = (value: string) => {
      // A NUL would end the query text early; PostgreSQL text cannot hold one anyway.
      if (value.includes('\u0000')) throw new Error('a lock or idempotency key contains U+0000');
      return client.escapeLiteral(value);
    };
    const results = (await client.query(
      `${BEGIN}; SELECT request_hash, result FROM command_begin(ARRAY[${locks.map(literal).join(', ')}]::text[], ${literal(command)}, ${key === null ? 'NULL' : literal(key)})`,
    )) as unknown as pg.QueryResult<IdempotencyRecord>[];
    return results[1]!.rows[0];
  };
}

/**
 * One command inside its transaction: locks and idempotency lookup, body, outbox
 * append (with the idempotency record), inline hooks (given the Prisma transaction,
 * when there is one), NOTIFY.
 */
async function transactionBody<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  begin: Begin,
  sql: Sql,
  body: () => Promise<{ events: PendingEvent[]; result: R }>,
  traceContext: TraceContext,
  prismaTx: TransactionClient | null,
): Promise<{ outcome: CommandResult<R>; stored: StoredEvent[] }> {
  const idempotencyLock = spec.idempotency ? [`idempotency:${spec.command}:${spec.idempotency.key}`] : [];
  // A customer's own command also holds its customer's lock, which eraseCustomer takes:
  // an erasure and the customer's commands never overlap, so the check below is final.
  const ownCustomer = ctx.subject.role === 'customer' ? ctx.subject.customerId : undefined;
  const customerLock = ownCustomer ? [`Customer:${ownCustomer}`] : [];
  const locks = [...new Set([...spec.locks, ...idempotencyLock, ...customerLock])].sort();
  const requestHash = spec.idempotency ? hashInput(spec.idempotency.input) : undefined;
  const previous = await begin(locks, spec.command, spec.idempotency?.key ?? null);
  if (previous) {
    if (previous.request_hash !== requestHash) {
      throw new ValidationError([
        { path: ['input', 'idempotencyKey'], message: 'this key was used before with different input' },
      ]);
    }
    return { outcome: previous.result as CommandResult<R>, stored: [] };
  }
  if (ownCustomer && (await isErased(sql, ownCustomer))) {
    throw new Forbidden('this customer was erased: its tokens may no longer change anything');
  }
  const { events, result } = await body();
  if (events.length === 0) throw new Error(`${spec.command} produced no events`);
  // The idempotency record is written by the outbox insert's statement, with the
  // position of the command's last event added to `result`.
  const stored = await appendToOutbox(sql, events, {
    actor: actorId(ctx.subject),
    actorRole: ctx.subject.role,
    trace: traceContext,
    idempotency:
      spec.idempotency && requestHash
        ? { command: spec.command, key: spec.idempotency.key, requestHash, result }
        : undefined,
  });
  if (prismaTx) for (const hook of ctx.hooks.afterAppend ?? []) await hook(prismaTx, stored, spec.command);
  // Delivered at commit; wakes projection engines without polling.
  if (ctx.notifyInTransaction) await sql.execute(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
  return { outcome: { ...result, position: encodePosition(stored.at(-1)!.position) }, stored };
}
