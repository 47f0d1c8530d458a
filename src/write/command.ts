// Runs one command as one PostgreSQL transaction, a Prisma interactive transaction:
// lock → load → decide → persist → append to the outbox (→ inline projections) →
// commit. Either all of it commits or none of it does. Every command takes this path.
import { createHash } from 'node:crypto';
import { context, SpanStatusCode, type Context as TraceContext, trace } from '@opentelemetry/api';
import type pg from 'pg';
import { actorId, type Subject } from '../auth/subject.ts';
import type { PrismaClient, TransactionClient } from '../db/prisma.ts';
import { prismaSql, type Sql } from '../db/sql.ts';
import { DomainError, Forbidden, ValidationError } from '../errors.ts';
import type { PendingEvent } from '../events/events.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { endWithError, tracer } from '../observability/tracing.ts';
import { appendToOutbox, OUTBOX_CHANNEL, type StoredEvent } from '../outbox/append.ts';
import { encodePosition } from '../outbox/position.ts';

export interface CommandHooks {
  /** Runs inside the command's transaction after its events are appended (inline projections, tests). */
  afterAppend?: Array<(tx: TransactionClient, events: StoredEvent[], command: string) => Promise<void>>;
}

export interface CommandContext {
  prisma: PrismaClient;
  subject: Subject;
  /** The OpenTelemetry context to run in (the GraphQL operation's span); else the active one. */
  trace?: TraceContext | null;
  hooks: CommandHooks;
  /** Called after commit with the committed events (after-commit notification). */
  onCommitted?: (events: StoredEvent[]) => void;
  /** NOTIFY projection engines inside the command transaction (see outbox/notifier.ts for the default). */
  notifyInTransaction?: boolean;
  /**
   * The read database, only when it is not the write database (READ_DATABASE_URL):
   * erasure scrubs the projections' error texts there. No other command touches it.
   */
  readDatabase?: Sql;
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
  /**
   * A read the body needs, sent in the statement that takes the locks to save it a
   * round trip: a query of one row and one jsonb column, handed to the body as it
   * comes back. That statement's snapshot was taken before its lock wait ended, so
   * the read may miss what the locks' previous holder committed: only for facts no
   * holder of these locks changes, or facts a later statement checks again.
   */
  facts?: Prisma.Sql;
}

export type CommandResult<R> = R & { position: string };

function hashInput(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('hex');
}

/** `facts` is what the spec's facts query returned (undefined without one). */
type Body<R> = (tx: TransactionClient, facts: unknown) => Promise<{ events: PendingEvent[]; result: R }>;

/** How long a command waits for a connection, and how long its transaction may run. */
const MAX_WAIT_MS = 10_000;
const TIMEOUT_MS = 30_000;

/**
 * Runs a command in a Prisma interactive transaction. The body uses Prisma's model API
 * where that costs no extra round trip, and tagged `$queryRaw` / `$executeRaw` for the
 * set-based statements the model API cannot express.
 */
export function runCommand<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: Body<R>,
): Promise<CommandResult<R>> {
  const parent = ctx.trace ?? context.active();
  return tracer().startActiveSpan(
    `command ${spec.command}`,
    { attributes: { 'parallax.command': spec.command } },
    parent,
    async (span) => {
      try {
        const result = await inTransaction(ctx, spec, body, trace.setSpan(parent, span));
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

async function inTransaction<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: Body<R>,
  traceContext: TraceContext,
): Promise<CommandResult<R>> {
  // No isolation level is set: commands run in PostgreSQL's default, READ COMMITTED,
  // and setting it would cost a statement per command.
  const { outcome, stored } = await ctx.prisma
    .$transaction((tx) => transactionBody(ctx, spec, tx, body, traceContext), {
      maxWait: MAX_WAIT_MS,
      timeout: TIMEOUT_MS,
    })
    .catch((error: unknown) => {
      throw noConnectionIn(error);
    });
  if (stored.length) ctx.onCommitted?.(stored);
  return outcome;
}

/**
 * Prisma reports a pool that gave no connection within MAX_WAIT_MS as a transaction
 * API error (P2028); said as pg says it, so it is reported as the outage it is
 * (db/unavailable.ts: UNAVAILABLE, retryable).
 */
function noConnectionIn(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'P2028' && typeof message === 'string' && message.includes('Unable to start a transaction')) {
    return new Error(`timeout exceeded when trying to connect: no connection within ${MAX_WAIT_MS} ms`, {
      cause: error,
    });
  }
  return error;
}

async function isErased(tx: TransactionClient, customerId: string): Promise<boolean> {
  const rows = await tx.$queryRaw<{ erased: boolean }[]>`
    SELECT erased_at IS NOT NULL AS erased FROM customers WHERE id = ${customerId}::uuid`;
  return rows[0]?.erased ?? false;
}

interface IdempotencyRecord {
  request_hash: string;
  result: Record<string, unknown>;
}

/**
 * The command's first statement: takes its locks (transaction-scoped advisory locks,
 * sorted) and returns the idempotency record stored under its key, if any, and the
 * spec's facts. One statement, a function call (see the command_begin migration for
 * why a function) and the facts read beside it. Prisma has sent BEGIN, which assigns
 * no transaction id, and reads assign none: none is assigned before the locks are held.
 */
async function begin(
  tx: TransactionClient,
  locks: string[],
  command: string,
  key: string | null,
  facts: Prisma.Sql | undefined,
): Promise<{ previous?: IdempotencyRecord | undefined; facts?: unknown }> {
  if (!locks.length && !facts) return {};
  const lookup = Prisma.sql`
    SELECT false AS is_facts, request_hash, result, NULL::jsonb AS facts
      FROM command_begin(${locks}::text[], ${command}, ${key})`;
  const rows = await tx.$queryRaw<(IdempotencyRecord & { is_facts: boolean; facts: unknown })[]>(
    facts ? Prisma.sql`${lookup} UNION ALL SELECT true, NULL, NULL, (${facts})` : lookup,
  );
  return { previous: rows.find((r) => !r.is_facts), facts: rows.find((r) => r.is_facts)?.facts };
}

/**
 * One command inside its transaction: locks and idempotency lookup, body, outbox
 * append (with the idempotency record), inline hooks, NOTIFY.
 */
async function transactionBody<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  tx: TransactionClient,
  body: Body<R>,
  traceContext: TraceContext,
): Promise<{ outcome: CommandResult<R>; stored: StoredEvent[] }> {
  const idempotencyLock = spec.idempotency ? [`idempotency:${spec.command}:${spec.idempotency.key}`] : [];
  // A customer's own command also holds its customer's lock, which eraseCustomer takes:
  // an erasure and the customer's commands never overlap, so the check below is final.
  const ownCustomer = ctx.subject.role === 'customer' ? ctx.subject.customerId : undefined;
  const customerLock = ownCustomer ? [`Customer:${ownCustomer}`] : [];
  const locks = [...new Set([...spec.locks, ...idempotencyLock, ...customerLock])].sort();
  const requestHash = spec.idempotency ? hashInput(spec.idempotency.input) : undefined;
  const { previous, facts } = await begin(tx, locks, spec.command, spec.idempotency?.key ?? null, spec.facts);
  if (previous) {
    if (previous.request_hash !== requestHash) {
      throw new ValidationError([
        { path: ['input', 'idempotencyKey'], message: 'this key was used before with different input' },
      ]);
    }
    return { outcome: previous.result as CommandResult<R>, stored: [] };
  }
  if (ownCustomer && (await isErased(tx, ownCustomer))) {
    throw new Forbidden('this customer was erased: its tokens may no longer change anything');
  }
  const { events, result } = await body(tx, facts);
  if (events.length === 0) throw new Error(`${spec.command} produced no events`);
  // The idempotency record is written by the outbox insert's statement, with the
  // position of the command's last event added to `result`.
  const stored = await appendToOutbox(prismaSql(tx), events, {
    actor: actorId(ctx.subject),
    actorRole: ctx.subject.role,
    trace: traceContext,
    idempotency:
      spec.idempotency && requestHash
        ? { command: spec.command, key: spec.idempotency.key, requestHash, result }
        : undefined,
  });
  for (const hook of ctx.hooks.afterAppend ?? []) await hook(tx, stored, spec.command);
  // Delivered at commit; wakes projection engines without polling.
  if (ctx.notifyInTransaction) await tx.$executeRaw`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`;
  return { outcome: { ...result, position: encodePosition(stored.at(-1)!.position) }, stored };
}
