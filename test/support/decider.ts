// Given/when/then for the pure deciders: given the state a decider is handed, when a
// command, then the events it decides, or the typed domain error it throws (its class
// and message, and any fields a client acts on). No database, no clock: table-driven
// specs of every rule, each a test of its own.
import { expect, it } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: any constructor of an Error subclass, whatever its parameters.
type ErrorClass = abstract new (...args: any[]) => Error;

/** The typed error a decider throws: its class, its message, and fields a client acts on. */
export interface Thrown {
  error: ErrorClass;
  message: string;
  fields?: Record<string, unknown>;
}

// `thenEvents` or `thenThrows`, not `then`: an object with a `then` is a thenable.
export type DeciderCase<G, C, E> = {
  /** Completes the sentence "it …". */
  it: string;
  given: G;
  when: C;
} & ({ thenEvents: E[] } | { thenThrows: Thrown });

/** What a decider decided: its events, or what it threw. */
function decision<G, C, E>(decide: (command: C, given: G) => E[], given: G, command: C) {
  try {
    return { events: decide(command, given) };
  } catch (error) {
    return { thrown: error };
  }
}

export function expectDecision<G, C, E>(decide: (command: C, given: G) => E[], spec: DeciderCase<G, C, E>): void {
  const outcome = decision(decide, spec.given, spec.when);
  if ('thenEvents' in spec) {
    if ('thrown' in outcome) throw outcome.thrown;
    expect(outcome.events).toEqual(spec.thenEvents);
    return;
  }
  const expected = spec.thenThrows;
  if (!('thrown' in outcome)) {
    expect.fail(
      `expected ${expected.error.name} (${expected.message}), but it decided ${JSON.stringify(outcome.events)}`,
    );
  }
  expect(outcome.thrown).toBeInstanceOf(expected.error);
  expect((outcome.thrown as Error).message).toBe(expected.message);
  if (expected.fields) expect(outcome.thrown).toMatchObject(expected.fields);
}

/** One `it` per case. */
export function decides<G, C, E>(decide: (command: C, given: G) => E[], cases: DeciderCase<G, C, E>[]): void {
  for (const spec of cases) it(spec.it, () => expectDecision(decide, spec));
}
