import { randomUUID } from 'node:crypto';
import { authorize } from '../../auth/policy.ts';
import type { TransactionClient } from '../../db/prisma.ts';
import { assertId, assertNever } from '../../errors.ts';
import type { CustomerEvent } from '../../events/customer.ts';
import { type PendingEvent, versioned } from '../../events/events.ts';
import { type CommandContext, type CommandResult, runCommand } from '../command.ts';
import type { CustomerState } from './commands.ts';
import { decideCustomer } from './decide.ts';
import { forgetCustomer, scrubProjectionErrors } from './erasure.ts';

export type CustomerResult = CommandResult<{ customerId: string; version: number }>;

async function loadCustomer(tx: TransactionClient, id: string): Promise<CustomerState | null> {
  assertId('Customer', id);
  const row = await tx.customer.findUnique({
    where: { id },
    select: { id: true, name: true, version: true, erasedAt: true },
  });
  return row ? { id: row.id, name: row.name, version: row.version, erased: row.erasedAt !== null } : null;
}

/** Writes one customer event into the write model. */
async function persist(tx: TransactionClient, e: PendingEvent<CustomerEvent>): Promise<void> {
  const { event } = e;
  switch (event.type) {
    case 'CustomerCreated':
      await tx.customer.create({
        data: {
          id: event.data.customerId,
          name: event.data.name,
          email: event.data.email,
          version: e.aggregateVersion,
        },
      });
      return;
    case 'CustomerRenamed':
      await tx.customer.update({
        where: { id: event.data.customerId },
        data: { name: event.data.name, version: e.aggregateVersion, updatedAt: new Date() },
      });
      return;
    case 'CustomerErased':
      await tx.customer.update({
        where: { id: event.data.customerId },
        data: { name: null, email: null, erasedAt: new Date(), version: e.aggregateVersion, updatedAt: new Date() },
      });
      return;
    default:
      assertNever(event);
  }
}

async function decideAndPersist(
  tx: TransactionClient,
  command: Parameters<typeof decideCustomer>[0],
  state: CustomerState | null,
): Promise<{ events: PendingEvent[]; result: { customerId: string; version: number } }> {
  const before = state?.version ?? 0;
  const events = versioned('Customer', command.customerId, before, decideCustomer(command, state));
  for (const e of events) await persist(tx, e);
  return { events, result: { customerId: command.customerId, version: before + events.length } };
}

export function createCustomer(ctx: CommandContext, input: { name: string; email: string }): Promise<CustomerResult> {
  authorize(ctx.subject, 'createCustomer');
  const customerId = randomUUID();
  return runCommand(ctx, { command: 'createCustomer', locks: [] }, (tx) =>
    decideAndPersist(tx, { type: 'CreateCustomer', customerId, ...input }, null),
  );
}

export function renameCustomer(
  ctx: CommandContext,
  input: { customerId: string; name: string },
): Promise<CustomerResult> {
  authorize(ctx.subject, 'renameCustomer', input.customerId);
  return runCommand(ctx, { command: 'renameCustomer', locks: [`Customer:${input.customerId}`] }, async (tx) =>
    decideAndPersist(tx, { type: 'RenameCustomer', ...input }, await loadCustomer(tx, input.customerId)),
  );
}

export async function eraseCustomer(ctx: CommandContext, input: { customerId: string }): Promise<CustomerResult> {
  authorize(ctx.subject, 'eraseCustomer');
  // The customer lock also holds back createOrder for this customer, so the orders
  // forgetCustomer scrubs are all there are.
  let values: string[] = [];
  const result = await runCommand(
    ctx,
    { command: 'eraseCustomer', locks: [`Customer:${input.customerId}`] },
    async (tx) => {
      const state = await loadCustomer(tx, input.customerId);
      // Before persist clears the customers row, which is one of the places it reads names from.
      if (state && !state.erased) ({ values } = await forgetCustomer(tx, input.customerId, ctx.readDatabase));
      return decideAndPersist(tx, { type: 'EraseCustomer', ...input }, state);
    },
  );
  // A separate read database was scrubbed before the commit; once more now, for an error
  // text a projection wrote there meanwhile (after the commit no payload carries the data).
  if (ctx.readDatabase && values.length) await scrubProjectionErrors(ctx.readDatabase, values).catch(() => 0);
  return result;
}
