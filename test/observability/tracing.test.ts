// One trace from a GraphQL mutation through the command, the outbox append (its W3C
// context stored on the outbox rows), to the projection batches that applied the
// events and their bus publish, received by an in-memory exporter.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { CreateCustomer } from '../support/documents.ts';
import { caughtUp, until } from '../support/projections.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let t: TestApp;

beforeAll(async () => {
  // What startTracing() registers when OTEL_EXPORTER_OTLP_ENDPOINT is set, with an
  // in-memory exporter instead of OTLP.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  t = await createTestApp();
  await t.startEngine();
  await caughtUp(t.pools);
});
afterAll(async () => {
  await t?.close();
  await provider.shutdown();
});

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('tracing', () => {
  it('shows one trace: mutation → command → outbox append → each projection batch → bus publish', async () => {
    exporter.reset();
    const res = await t.gql(CreateCustomer, { input: { name: 'Traced Customer', email: 'traced@example.com' } });
    expect(res.data?.createCustomer.__typename).toBe('CustomerPayload');
    await caughtUp(t.pools);
    const spans = await until('every projection batch span', async () => {
      const all = exporter.getFinishedSpans();
      const batches = all.filter((s) => s.name.startsWith('projection batch '));
      return batches.length >= PROJECTION_NAMES.length && all.filter((s) => s.name === 'bus publish').length >= 4
        ? all
        : undefined;
    });

    const operation = spans.find((s) => s.name === 'graphql.mutation CreateCustomer')!;
    expect(operation).toBeDefined();
    const traceId = operation.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byName = (name: string) => inTrace.filter((s) => s.name === name);

    const [command] = byName('command createCustomer');
    expect(command, 'command span in the trace').toBeDefined();
    expect(parentOf(command!)).toBe(operation.spanContext().spanId);

    const [append] = byName('outbox append');
    expect(append, 'outbox append span in the trace').toBeDefined();
    expect(parentOf(append!)).toBe(command!.spanContext().spanId);

    // The outbox rows carry the append span's W3C context.
    const { rows } = await t.pool.query<{ trace_context: { traceparent: string } }>(
      `SELECT trace_context FROM outbox WHERE aggregate_id = $1::uuid`,
      [res.data?.createCustomer.__typename === 'CustomerPayload' ? res.data.createCustomer.customer.id : ''],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.trace_context.traceparent).toBe(`00-${traceId}-${append!.spanContext().spanId}-01`);

    for (const name of PROJECTION_NAMES) {
      const [batch] = byName(`projection batch ${name}`);
      expect(batch, `batch of ${name} in the trace`).toBeDefined();
      expect(parentOf(batch!)).toBe(append!.spanContext().spanId);
      expect(batch!.attributes['parallax.projection']).toBe(name);
      const publish = byName('bus publish').find((s) => parentOf(s) === batch!.spanContext().spanId);
      expect(publish, `bus publish of ${name}`).toBeDefined();
    }
  });

  it('continues the caller trace from a traceparent header', async () => {
    exporter.reset();
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.request(
      {
        query: 'mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename } }',
        variables: { input: { name: 'Header Customer', email: 'header@example.com' } },
      },
      { authorization: `Bearer ${t.adminToken}`, traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` },
    );
    expect(res.json.data).toEqual({ createCustomer: { __typename: 'CustomerPayload' } });
    const operation = await until('the operation span', async () =>
      exporter.getFinishedSpans().find((s) => s.name.startsWith('graphql.mutation')),
    );
    expect(operation.spanContext().traceId).toBe(callerTrace);
    expect(parentOf(operation)).toBe('00f067aa0ba902b7');
  });

  it('links a batch of events from several traces to each of them', async () => {
    await caughtUp(t.pools);
    await t.app.engine?.stop();
    t.app.engine = undefined;
    exporter.reset();
    await t.gql(CreateCustomer, { input: { name: 'First Batch', email: 'first@example.com' } });
    await t.gql(CreateCustomer, { input: { name: 'Second Batch', email: 'second@example.com' } });
    const traces = new Set(
      exporter
        .getFinishedSpans()
        .filter((s) => s.name === 'outbox append')
        .map((s) => s.spanContext().traceId),
    );
    expect(traces.size).toBe(2);
    await t.startEngine();
    await caughtUp(t.pools);
    const batch = await until('the order_list_view batch', async () =>
      exporter.getFinishedSpans().find((s) => s.name === 'projection batch order_list_view'),
    );
    expect(batch.attributes['parallax.events']).toBe(2);
    expect(traces.has(batch.spanContext().traceId)).toBe(false);
    expect(new Set(batch.links.map((l) => l.context.traceId))).toEqual(traces);
  });
});
