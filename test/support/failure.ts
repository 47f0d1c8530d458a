// Forces a command to fail inside its own transaction, after its events were appended
// to the outbox (the CommandHooks test seam), to prove the transaction leaves nothing.
import { expect } from 'vitest';
import type { GraphQLResponse, TestApp } from './app.ts';

export const FORCED_FAILURE = 'forced failure after the outbox append';

export interface ForcedFailure<R> {
  response: R;
  /** What the hook saw inside the transaction: the command and the outbox rows it had appended. */
  seen: { command: string; appended: { eventId: string; eventType: string }[] }[];
}

export async function failingAfterAppend<R>(t: TestApp, run: () => Promise<R>): Promise<ForcedFailure<R>> {
  const seen: ForcedFailure<R>['seen'] = [];
  const previous = t.app.hooks.afterAppend;
  t.app.hooks.afterAppend = [
    async (tx, events, command) => {
      // Read back inside the transaction: the rows are there until the rollback.
      const appended = await tx.$queryRawUnsafe<{ eventId: string; eventType: string }[]>(
        'SELECT event_id::text AS "eventId", event_type AS "eventType" FROM outbox WHERE event_id = ANY($1::uuid[]) ORDER BY seq',
        events.map((e) => e.eventId),
      );
      seen.push({ command, appended });
      throw new Error(FORCED_FAILURE);
    },
  ];
  try {
    return { response: await run(), seen };
  } finally {
    t.app.hooks.afterAppend = previous;
  }
}

/** An unexpected error reaches the client only as a generic, coded message. */
export function expectMaskedInternalError(response: GraphQLResponse<unknown>, hidden = FORCED_FAILURE): void {
  expect(response.data ?? null).toBeNull();
  expect(response.errors).toHaveLength(1);
  expect(response.errors![0]!.message).toBe('Unexpected error.');
  expect(response.errors![0]!.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  expect(JSON.stringify(response)).not.toContain(hidden);
}
