// Abuse limits on every GraphQL operation, each a clear error with its own code:
// depth, aliases, cost, tokens and directives (graphql-armor), document and variables
// size, and a per-subject rate limit on mutations (rate-limiter-flexible). The batch
// size is yoga's `batching.limit` (yoga.ts). Field suggestions are blocked outside
// development, so error messages do not leak the schema.
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { type GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
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

/** Document and variables size, checked before the document is parsed. */
function useSizeLimits(limits: Limits): Plugin {
  return {
    onParams({ params }) {
      // A batch element can be anything; yoga itself refuses what is no operation.
      if (!params || typeof params !== 'object') return;
      if (typeof params.query === 'string' && Buffer.byteLength(params.query) > limits.maxDocumentBytes) {
        throw tooLarge(`the document is over ${limits.maxDocumentBytes} bytes`, 'DOCUMENT_TOO_LARGE');
      }
      const variables =
        params.variables === undefined || params.variables === null ? '' : JSON.stringify(params.variables);
      if (Buffer.byteLength(variables) > limits.maxVariablesBytes) {
        throw tooLarge(`the variables are over ${limits.maxVariablesBytes} bytes`, 'VARIABLES_TOO_LARGE');
      }
      // PostgreSQL text cannot hold NUL: refuse it up front rather than fail in SQL.
      if (
        NUL_IN_JSON.test(variables) ||
        (typeof params.query === 'string' && (params.query.includes('\0') || NUL_IN_DOCUMENT.test(params.query)))
      ) {
        throw createGraphQLError('strings may not contain NUL (U+0000) characters', {
          extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
        });
      }
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

/**
 * Each mutation field costs its subject one point; past `mutationRate` points in
 * `mutationRateWindowMs` the operation is refused with RATE_LIMITED (and changes
 * nothing) until the window moves on. Counted per process.
 */
function useMutationRateLimit(limits: Limits): Plugin<GraphQLContext> {
  const limiter = new RateLimiterMemory({
    points: limits.mutationRate,
    duration: limits.mutationRateWindowMs / 1000,
  });
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const subject = args.contextValue.subject;
      const operation = selectedOperation(args.document.definitions, args.operationName);
      if (!subject || operation?.operation !== 'mutation') return;
      const points = Math.max(1, operation.selectionSet.selections.length);
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

export function useLimits(limits: Limits): Plugin<GraphQLContext>[] {
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
    useMutationRateLimit(limits),
  ];
  if (!limits.fieldSuggestions) plugins.push(blockFieldSuggestionsPlugin());
  return plugins;
}
