// The runner's batch size (projections/failures.ts): full batches double the next one
// up to the catch-up maximum, a batch that was not full goes back to the configured
// size, and narrowing down a failing event (batches of 1) is never grown.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Failures } from '../../src/projections/failures.ts';

const failures = () =>
  new Failures({ batchSize: 500, maxBatchSize: 4000, maxAttempts: 3, retryBaseMs: 10 }, pino({ level: 'silent' }), 't');

describe('the batch size while catching up', () => {
  it('doubles after each full batch up to the maximum, and drops back once a batch is not full', () => {
    const f = failures();
    const sizes = [f.limit];
    for (let i = 0; i < 5; i++) {
      f.succeeded(f.limit);
      sizes.push(f.limit);
    }
    expect(sizes).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    f.succeeded(120);
    expect(f.limit).toBe(500);
  });

  it('does not grow a batch of one (narrowing down a failing event) and resets after a failure is resolved', () => {
    const f = failures();
    f.limit = 1;
    f.succeeded(1);
    expect(f.limit).toBe(500);
    f.succeeded();
    expect(f.limit).toBe(500);
  });
});
