// Subscription fan-out: subscribers that would compute the same payloads share one
// execution. A group is every live subscriber of the same operation (document,
// operation name, variables) with the same read scope (role, and customer for
// customers): the first one subscribes for real; each change is resolved once for the
// group and serialized once (the result carries a memoized `stringify`, which yoga's
// SSE and HTTP result processors use), then handed to every member. Operations with an
// `after` argument (resume from a position) replay per subscriber and are not grouped.
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import { Kind, print, type ValueNode, visit } from 'graphql';
import { FixedBuffer, type Plugin, Repeater } from 'graphql-yoga';
import type { GraphQLContext } from './context.ts';

/** A member that falls this far behind is ended with an error (it may resume with `after`). */
const MAX_BACKLOG = 10_000;

interface Member {
  push(result: ExecutionResult): Promise<unknown>;
  stop(error?: unknown): void;
}

interface Group {
  members: Set<Member>;
  closed: boolean;
  /** Ends the shared source (the last member left). */
  close(): void;
}

/** Each server's groups (one map per plugin instance: two servers in a process never share). */
const instances = new Set<Map<string, Group>>();
interface DocumentInfo {
  printed: string;
  /** The values given to `after` arguments: a resume position (literal or variable). */
  after: ValueNode[];
}

const documents = new WeakMap<object, DocumentInfo | null>();

/** Live groups and members (tests, metrics). */
export function sharedSubscriptionStats(): { groups: number; members: number } {
  let groups = 0;
  let members = 0;
  for (const instance of instances) {
    groups += instance.size;
    for (const g of instance.values()) members += g.members.size;
  }
  return { groups, members };
}

function documentInfo(document: ExecutionArgs['document']): DocumentInfo | null {
  let info = documents.get(document);
  if (info === undefined) {
    const after: ValueNode[] = [];
    visit(document, {
      Argument(node) {
        if (node.name.value === 'after') after.push(node.value);
      },
    });
    const subscription = document.definitions.some(
      (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription',
    );
    info = subscription ? { printed: print(document), after } : null;
    documents.set(document, info);
  }
  return info;
}

/** Whether an `after` argument carries a position (then the subscriber replays on its own). */
function resumes(info: DocumentInfo, variables: ExecutionArgs['variableValues']): boolean {
  return info.after.some((value) =>
    value.kind === Kind.VARIABLE ? (variables?.[value.name.value] ?? null) !== null : value.kind !== Kind.NULL,
  );
}

function groupKey(args: ExecutionArgs): string | null {
  const info = documentInfo(args.document);
  if (!info || resumes(info, args.variableValues)) return null;
  const subject = (args.contextValue as GraphQLContext).subject;
  if (!subject) return null;
  return JSON.stringify([
    subject.role,
    subject.role === 'customer' ? (subject.customerId ?? subject.sub) : null,
    args.operationName ?? null,
    args.variableValues ?? null,
    info.printed,
  ]);
}

/** Serializes once per result, however many subscribers it goes to. */
function shareSerialization(result: ExecutionResult): ExecutionResult {
  let text: string | undefined;
  Object.defineProperty(result, 'stringify', {
    value: (value: unknown) => {
      text ??= JSON.stringify(value);
      return text;
    },
    enumerable: false,
  });
  return result;
}

function join(group: Group): AsyncIterable<ExecutionResult> {
  return new Repeater<ExecutionResult>(async (push, stop) => {
    // The group ended before this member's first read: complete (the client may resubscribe).
    if (group.closed) {
      stop();
      return;
    }
    const member: Member = { push, stop };
    group.members.add(member);
    await stop;
    group.members.delete(member);
    if (group.members.size === 0) group.close();
  }, new FixedBuffer(MAX_BACKLOG));
}

async function pump(
  groups: Map<string, Group>,
  key: string,
  group: Group,
  source: AsyncIterator<ExecutionResult>,
): Promise<void> {
  let failure: unknown;
  try {
    for (;;) {
      const next = await source.next();
      if (next.done) break;
      const result = shareSerialization(next.value);
      for (const member of group.members) member.push(result).catch((error) => member.stop(error));
    }
  } catch (error) {
    failure = error;
  } finally {
    group.closed = true;
    if (groups.get(key) === group) groups.delete(key);
    for (const member of group.members) member.stop(failure);
  }
}

export function useSharedSubscriptions(): Plugin<GraphQLContext> {
  const groups = new Map<string, Group>();
  instances.add(groups);
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const key = groupKey(args);
      if (key === null) return;
      setSubscribeFn(async (subscribeArgs) => {
        const existing = groups.get(key);
        if (existing) return join(existing);
        const result = await subscribeFn(subscribeArgs);
        if (!(Symbol.asyncIterator in (result as object))) return result;
        // Another subscriber of this key may have set up its group while this one awaited.
        const raced = groups.get(key);
        const source = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        if (raced) {
          await source.return?.();
          return join(raced);
        }
        const group: Group = {
          members: new Set(),
          closed: false,
          close: () => {
            group.closed = true;
            if (groups.get(key) === group) groups.delete(key);
            void source.return?.();
          },
        };
        groups.set(key, group);
        const stream = join(group);
        void pump(groups, key, group, source);
        return stream;
      });
    },
  };
}
