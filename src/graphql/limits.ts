// Abuse limits on every GraphQL operation, each a clear error with its own code:
// depth, aliases, cost, tokens and directives (graphql-armor), document and variables
// size, and a per-subject rate limit on mutations (rate-limiter-flexible: in Redis when
// REDIS_URL is set, so every API process draws on one budget; in memory otherwise).
// The batch size is yoga's `batching.limit` (yoga.ts). Field suggestions are blocked
// outside development, so error messages do not leak the schema.
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  type DirectiveNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limits } from '../config.ts';
import type { GraphQLContext } from './context.ts';

/** Gives a graphql-armor rejection an error code clients can act on. */
function withCode(code: string) {
  return [
    (_ctx: unknown, error: GraphQLError) => {
      (error.extensions as Record<string, unknown>).code = code;
    },
  ];
}

function tooLarge(message: string, code: string) {
  return createGraphQLError(message, { extensions: { code, http: { status: 413 } } });
}

const NUL_IN_JSON = /\\u0000/;
const NUL_IN_DOCUMENT = /\\u0000|\\u\{0+\}/;
/** A UTF-16 surrogate without its partner: no Unicode text, and jsonb refuses its escape. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether any string (or key) in a JSON value holds a lone surrogate. */
function hasLoneSurrogate(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object' || depth > 100) return false;
  if (Array.isArray(value)) return value.some((v) => hasLoneSurrogate(v, depth + 1));
  return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v, depth + 1));
}

/**
 * Document and variables size, NUL and lone surrogates, checked before the document is
 * parsed; every transport runs it (HTTP and SSE through yoga's onParams, WebSocket in
 * server/ws.ts). Throws a GraphQLError with a code.
 */
export function checkParams(limits: Pick<Limits, 'maxDocumentBytes' | 'maxVariablesBytes'>, params: unknown): void {
  // A batch element can be anything; yoga itself refuses what is no operation.
  if (!params || typeof params !== 'object') return;
  const { query, variables: given } = params as { query?: unknown; variables?: unknown };
  if (typeof query === 'string' && Buffer.byteLength(query) > limits.maxDocumentBytes) {
    throw tooLarge(`the document is over ${limits.maxDocumentBytes} bytes`, 'DOCUMENT_TOO_LARGE');
  }
  const variables = given === undefined || given === null ? '' : JSON.stringify(given);
  if (Buffer.byteLength(variables) > limits.maxVariablesBytes) {
    throw tooLarge(`the variables are over ${limits.maxVariablesBytes} bytes`, 'VARIABLES_TOO_LARGE');
  }
  // PostgreSQL text cannot hold NUL: refuse it up front rather than fail in SQL.
  if (
    NUL_IN_JSON.test(variables) ||
    (typeof query === 'string' && (query.includes('\0') || NUL_IN_DOCUMENT.test(query)))
  ) {
    throw createGraphQLError('strings may not contain NUL (U+0000) characters', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
  // Found by the fuzzer: a lone surrogate in a variable reached the outbox insert,
  // where PostgreSQL's jsonb refused it (an internal error).
  if (hasLoneSurrogate(given) || (typeof query === 'string' && LONE_SURROGATE.test(query))) {
    throw createGraphQLError('strings must be Unicode text: no unpaired surrogate (U+D800 to U+DFFF)', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
}

function useSizeLimits(limits: Limits): Plugin {
  return {
    onParams({ params }) {
      checkParams(limits, params);
    },
  };
}

function selectedOperation(
  definitions: readonly { kind: string }[],
  name: string | null | undefined,
): OperationDefinitionNode | undefined {
  const operations = definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return name ? operations.find((o) => o.name?.value === name) : operations[0];
}

function literal(value: ValueNode, variables: Record<string, unknown>): unknown {
  if (value.kind === Kind.VARIABLE) return variables[value.name.value];
  return value.kind === Kind.BOOLEAN ? value.value : undefined;
}

/** @skip(if: true) or @include(if: false), with variables as the operation was given them. */
function skipped(directives: readonly DirectiveNode[] | undefined, variables: Record<string, unknown>): boolean {
  for (const directive of directives ?? []) {
    const condition = directive.arguments?.find((a) => a.name.value === 'if');
    if (!condition) continue;
    const value = literal(condition.value, variables);
    if (directive.name.value === 'skip' && value === true) return true;
    if (directive.name.value === 'include' && value === false) return true;
  }
  return false;
}

/**
 * The root fields a mutation will run, as graphql-js collects them: fragments spread
 * and inline fragments expanded (each named fragment once), @skip/@include applied,
 * one field per response key (fields merged under one key run once), `__typename`
 * free. Counting top-level selections instead let `mutation { ...F }` with fifteen
 * fields in F pass as one.
 */
export function mutationFieldCount(
  operation: OperationDefinitionNode,
  definitions: readonly { kind: string }[],
  variables: Record<string, unknown> = {},
): number {
  const fragments = new Map(
    definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const keys = new Set<string>();
  const visited = new Set<string>();
  const collect = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (skipped(selection.directives, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) keys.add((selection.alias ?? selection.name).value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (visited.has(name) || !fragment) continue;
        visited.add(name);
        collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return keys.size;
}

export interface RateLimitStore {
  /** Shared counters: every process on this Redis and prefix draws on one budget per subject. */
  redis: Redis;
  keyPrefix: string;
}

function createLimiter(limits: Limits, store: RateLimitStore | undefined) {
  const options = { points: limits.mutationRate, duration: limits.mutationRateWindowMs / 1000 };
  if (!store) return new RateLimiterMemory(options);
  return new RateLimiterRedis({
    ...options,
    storeClient: store.redis,
    keyPrefix: `${store.keyPrefix}:mutations`,
    // While Redis is away each process limits on its own (with the same numbers) rather
    // than failing every mutation or letting them all through.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}

/**
 * Each mutation field that will run costs its subject one point; past `mutationRate`
 * points in `mutationRateWindowMs` the operation is refused with RATE_LIMITED (and
 * changes nothing) until the window moves on. Every operation of a batch pays for its
 * own fields, so a batch costs the sum.
 */
function useMutationRateLimit(limits: Limits, store: RateLimitStore | undefined): Plugin<GraphQLContext> {
  const limiter = createLimiter(limits, store);
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const subject = args.contextValue.subject;
      const operation = selectedOperation(args.document.definitions, args.operationName);
      if (!subject || operation?.operation !== 'mutation') return;
      const points = Math.max(
        1,
        mutationFieldCount(
          operation,
          args.document.definitions,
          (args.variableValues ?? {}) as Record<string, unknown>,
        ),
      );
      try {
        await limiter.consume(subject.sub, points);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        setResultAndStopExecution({
          errors: [
            createGraphQLError(
              `rate limit: at most ${limits.mutationRate} mutations per ${limits.mutationRateWindowMs} ms`,
              {
                extensions: {
                  code: 'RATE_LIMITED',
                  retryAfterMs: rejection.msBeforeNext,
                  http: { status: 429, headers: { 'retry-after': String(Math.ceil(rejection.msBeforeNext / 1000)) } },
                },
              },
            ),
          ],
        });
      }
    },
  };
}

export function useLimits(limits: Limits, store?: RateLimitStore): Plugin<GraphQLContext>[] {
  const plugins: Plugin<GraphQLContext>[] = [
    useSizeLimits(limits) as Plugin<GraphQLContext>,
    maxTokensPlugin({ n: limits.maxTokens, exposeLimits: true, onReject: withCode('TOO_MANY_TOKENS') }),
    maxDepthPlugin({
      n: limits.maxDepth,
      exposeLimits: true,
      ignoreIntrospection: true,
      flattenFragments: true,
      onReject: withCode('QUERY_TOO_DEEP'),
    }),
    maxAliasesPlugin({ n: limits.maxAliases, exposeLimits: true, onReject: withCode('TOO_MANY_ALIASES') }),
    maxDirectivesPlugin({ n: limits.maxDirectives, exposeLimits: true, onReject: withCode('TOO_MANY_DIRECTIVES') }),
    costLimitPlugin({
      maxCost: limits.maxCost,
      exposeLimits: true,
      ignoreIntrospection: true,
      flattenFragments: true,
      onReject: withCode('QUERY_TOO_COMPLEX'),
    }),
    useMutationRateLimit(limits, store),
  ];
  if (!limits.fieldSuggestions) plugins.push(blockFieldSuggestionsPlugin());
  return plugins;
}
