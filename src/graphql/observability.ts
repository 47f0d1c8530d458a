// One span, one histogram sample and one log line per GraphQL operation (queries,
// mutations, subscriptions), whatever the transport. The log line carries the request
// id, operation name and type, the subject's id and role, the duration and the error
// count; never variables, never a name or an email.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { typeBrandKey } from '@pothos/core';
import { type DocumentNode, GraphQLError, type GraphQLSchema, getOperationAST, isObjectType } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { actorId, type Subject } from '../auth/subject.ts';
import { tracer } from '../observability/tracing.ts';
import type { GraphQLContext } from './context.ts';

/** The subject's id for logs (the same one the outbox records as the actor). */
export function subjectId(subject: Subject | null): string | null {
  return subject ? actorId(subject) : null;
}

function operationOf(document: DocumentNode, operationName: string | null | undefined) {
  const op = getOperationAST(document, operationName ?? undefined);
  const field = op?.selectionSet.selections.find((s) => s.kind === 'Field');
  return {
    type: op?.operation ?? 'unknown',
    name: op?.name?.value ?? operationName ?? null,
    field: field && field.kind === 'Field' ? field.name.value : 'unknown',
  };
}

function errorCount(result: unknown): number {
  const errors = (result as { errors?: unknown[] } | undefined)?.errors;
  return Array.isArray(errors) ? errors.length : 0;
}

export function useObservability(): Plugin<GraphQLContext> {
  const begin = (ctx: GraphQLContext, document: DocumentNode, operationName: string | null | undefined) => {
    const op = operationOf(document, operationName);
    const metrics = ctx.app.metrics;
    const label = metrics.operationLabel(op.name);
    const span = tracer().startSpan(
      `graphql.${op.type} ${label}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'graphql.operation.type': op.type,
          'graphql.operation.name': label,
          'parallax.request_id': ctx.requestId,
          'parallax.transport': ctx.transport,
        },
      },
      ctx.trace,
    );
    ctx.trace = trace.setSpan(ctx.trace, span);
    const started = performance.now();
    return (result: unknown, extra: Record<string, unknown> = {}) => {
      const durationMs = performance.now() - started;
      const errors = errorCount(result);
      metrics.graphqlDuration.observe({ operation_name: label, operation_type: op.type }, durationMs / 1000);
      if (errors) span.setStatus({ code: SpanStatusCode.ERROR, message: `${errors} GraphQL error(s)` });
      span.end();
      ctx.app.log.info(
        {
          requestId: ctx.requestId,
          operationName: label,
          operationType: op.type,
          field: op.field,
          transport: ctx.transport,
          subject: subjectId(ctx.subject),
          role: ctx.subject?.role ?? null,
          durationMs: Math.round(durationMs * 10) / 10,
          errors,
          ...extra,
        },
        'graphql operation',
      );
      return op;
    };
  };
  return {
    onExecute({ args }) {
      const ctx = args.contextValue as GraphQLContext;
      const finish = begin(ctx, args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
            // Incremental delivery: done when the stream ends.
            return { onEnd: () => void finish(undefined) };
          }
          finish(result);
          return undefined;
        },
      };
    },
    onSubscribe({ args }) {
      const ctx = args.contextValue as GraphQLContext;
      const finish = begin(ctx, args.document, args.operationName);
      return {
        onSubscribeResult({ result }) {
          if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
            const op = finish(undefined, { subscription: 'started' });
            const labels = { field: op.field, transport: ctx.transport };
            ctx.app.metrics.subscriptionsActive.inc(labels);
            let ended = false;
            return {
              onEnd: () => {
                if (ended) return;
                ended = true;
                ctx.app.metrics.subscriptionsActive.dec(labels);
              },
            };
          }
          finish(result);
          return undefined;
        },
        onSubscribeError({ error }) {
          finish({ errors: [error] });
        },
      };
    },
  };
}

/**
 * Wraps every Mutation field so each command records its latency by outcome: success,
 * the typed error it returned (ValidationError, Forbidden, …) or the code of the error
 * it threw. Done on the built schema, after the errors plugin turned typed errors into
 * results.
 */
export function instrumentMutations(schema: GraphQLSchema): GraphQLSchema {
  const mutation = schema.getMutationType();
  if (!mutation || !isObjectType(mutation)) return schema;
  for (const field of Object.values(mutation.getFields())) {
    const resolve = field.resolve;
    if (!resolve) continue;
    field.resolve = async (root, args, context: GraphQLContext, info) => {
      const started = performance.now();
      let outcome = 'success';
      try {
        const result = await resolve(root, args, context, info);
        // The errors plugin returns typed errors as proxies branded with their class.
        const brand = result && typeof result === 'object' ? (result as Record<symbol, unknown>)[typeBrandKey] : null;
        if (typeof brand === 'function' && brand.prototype instanceof Error) outcome = brand.name;
        else if (result instanceof Error) outcome = result.name || 'Error';
        return result;
      } catch (error) {
        outcome =
          error instanceof GraphQLError ? String(error.extensions?.code ?? 'GraphQLError') : 'INTERNAL_SERVER_ERROR';
        throw error;
      } finally {
        context.app?.metrics?.commandDuration.observe(
          { mutation: info.fieldName, outcome },
          (performance.now() - started) / 1000,
        );
      }
    };
  }
  return schema;
}
