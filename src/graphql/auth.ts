// Who may ask anything at all: without a token only introspection answers. Finer
// rules (roles, ownership) are in auth/policy.ts.

import { type DocumentNode, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createGraphQLError } from 'graphql-yoga';
import type { App } from '../app.ts';
import { Unauthenticated } from '../auth/jwt.ts';
import type { Subject } from '../auth/subject.ts';

const INTROSPECTION = new Set(['__schema', '__type', '__typename']);

export function unauthenticated(message: string) {
  return createGraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

function isIntrospectionOnly(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const op = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (op?.operation !== 'query') return false;
  return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && INTROSPECTION.has(s.name.value));
}

/** Reads "Authorization: Bearer <jwt>"; no header means no subject, a bad token is an error. */
export async function subjectFromHeader(app: App, header: string | null | undefined): Promise<Subject | null> {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw unauthenticated('Authorization must be "Bearer <token>"');
  try {
    return await app.tokens.verify(match[1]!);
  } catch (error) {
    if (error instanceof Unauthenticated) throw unauthenticated(error.message);
    throw error;
  }
}

export function useRequireSubject(): Plugin<{ subject: Subject | null }> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (!args.contextValue.subject && !isIntrospectionOnly(args.document, args.operationName)) {
        setResultAndStopExecution({ errors: [unauthenticated('a bearer token is required')] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (!args.contextValue.subject) {
        setResultAndStopExecution({ errors: [unauthenticated('a bearer token is required')] });
      }
    },
  };
}
