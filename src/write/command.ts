// Runs one command as one PostgreSQL transaction: lock → load → decide → persist →
// append to the outbox (→ inline projections) → commit. Either all of it commits or
// none of it does.
import { createHash } from 'node:crypto';
import { context, SpanStatusCode, type Context as TraceContext, trace } from '@opentelemetry/api';
import type { Subject } from '../auth/subject.ts';
import type { PrismaClient, TransactionClient } from '../db/prisma.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { endWithError, tracer } from '../observability/tracing.ts';
import { appendToOutbox, OUTBOX_CHANNEL, type StoredEvent } from '../outbox/append.ts';
import { encodePosition } from '../outbox/position.ts';
import { DomainError, ValidationError } from './errors.ts';
import type { PendingEvent } from './events.ts';

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

export async function runCommand<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: (tx: TransactionClient) => Promise<{ events: PendingEvent[]; result: R }>,
): Promise<CommandResult<R>> {
  const parent = ctx.trace ?? context.active();
  return tracer().startActiveSpan(
    `command ${spec.command}`,
    { attributes: { 'parallax.command': spec.command } },
    parent,
    async (span) => {
      try {
        const result = await runInTransaction(ctx, spec, body, trace.setSpan(parent, span));
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

async function runInTransaction<R extends Record<string, unknown>>(
  ctx: CommandContext,
  spec: CommandSpec,
  body: (tx: TransactionClient) => Promise<{ events: PendingEvent[]; result: R }>,
  traceContext: TraceContext,
): Promise<CommandResult<R>> {
  const idempotencyLock = spec.idempotency ? [`idempotency:${spec.command}:${spec.idempotency.key}`] : [];
  const locks = [...new Set([...spec.locks, ...idempotencyLock])].sort();
  let committed: StoredEvent[] = [];
  const result = await ctx.prisma.$transaction(
    async (tx) => {
      if (locks.length) {
        await tx.$queryRawUnsafe(
          `SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int AS n
             FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys`,
          locks,
        );
      }
      let requestHash: string | undefined;
      if (spec.idempotency) {
        requestHash = hashInput(spec.idempotency.input);
        const previous = await tx.idempotencyRecord.findUnique({
          where: { command_key: { command: spec.command, key: spec.idempotency.key } },
        });
        if (previous) {
          if (previous.requestHash !== requestHash) {
            throw new ValidationError([
              { path: ['input', 'idempotencyKey'], message: 'this key was used before with different input' },
            ]);
          }
          return previous.result as CommandResult<R>;
        }
      }
      const { events, result } = await body(tx);
      if (events.length === 0) throw new Error(`${spec.command} produced no events`);
      const stored = await appendToOutbox(tx, events, { actor: ctx.subject.sub, trace: traceContext });
      for (const hook of ctx.hooks.afterAppend ?? []) await hook(tx, stored, spec.command);
      const outcome = { ...result, position: encodePosition(stored.at(-1)!.position) };
      if (spec.idempotency && requestHash) {
        await tx.idempotencyRecord.create({
          data: {
            command: spec.command,
            key: spec.idempotency.key,
            requestHash,
            result: outcome as unknown as Prisma.InputJsonValue,
          },
        });
      }
      // Delivered at commit; wakes projection engines without polling.
      if (ctx.notifyInTransaction) await tx.$executeRawUnsafe(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`);
      committed = stored;
      return outcome;
    },
    { isolationLevel: Prisma.TransactionIsolationLevel.ReadCommitted, maxWait: 10_000, timeout: 30_000 },
  );
  if (committed.length) ctx.onCommitted?.(committed);
  return result;
}
