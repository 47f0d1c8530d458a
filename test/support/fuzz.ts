// GraphQL requests generated from the schema with fast-check, for the fuzzer
// (test/security/fuzz.test.ts). Three kinds, mixed:
// - valid: real fields with arguments of the right types, mostly real ids, positions
//   and cursors the test made, selection sets that respect the types;
// - near-valid: the same with one thing wrong (a wrong type, a value out of range, a
//   missing or unknown argument, an unknown field or enum value, a bad variable type);
// - hostile: what an attacker sends (huge and odd strings, NUL, SQL, forged cursors and
//   positions, alias and directive floods, fragment cycles, deep nesting, truncated
//   documents, batches, wrong HTTP methods, content types and bodies, bad tokens).
import fc from 'fast-check';
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isUnionType,
} from 'graphql';

export type Mode = 'valid' | 'near' | 'hostile';

/** Values the test made (real ids, positions, cursors), so valid requests reach real rows. */
export interface Pool {
  customerIds: string[];
  orderIds: string[];
  productIds: string[];
  skus: string[];
  positions: string[];
  cursors: string[];
  tokens: { admin: string; support: string; customer: string; otherCustomer: string };
}

/** One HTTP request for yoga.fetch, and what the checks need to know about it. */
export interface FuzzRequest {
  mode: Mode;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Whether any operation in it is a mutation (then the write tables are compared). */
  mutation: boolean;
  /** For failure reports. */
  summary: string;
}

/** A value in a GraphQL document: printed by `literal`. */
type Value =
  | { enum: string }
  | string
  | number
  | boolean
  | null
  | Value[]
  | { [key: string]: Value }
  | { variable: string };

function isEnum(v: Value): v is { enum: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { enum?: unknown }).enum === 'string';
}
function isVariable(v: Value): v is { variable: string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { variable?: unknown }).variable === 'string'
  );
}

export function literal(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '0';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  if (isEnum(v)) return v.enum;
  if (isVariable(v)) return `$${v.variable}`;
  return `{ ${Object.entries(v)
    .map(([k, x]) => `${k}: ${literal(x)}`)
    .join(', ')} }`;
}

/** The JSON a variable carries for a Value (enums as their names). */
function json(v: Value): unknown {
  if (Array.isArray(v)) return v.map(json);
  if (v !== null && typeof v === 'object') {
    if (isEnum(v)) return v.enum;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, json(x)]));
  }
  return v;
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  "'; DROP TABLE orders; --",
  "' OR '1'='1",
  '\\',
  '%_%',
  '$1',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '😀∑ß\u202e',
  '{"__proto__":{"admin":true}}',
  '__proto__',
  'constructor',
  'x'.repeat(201),
  'x'.repeat(5_000),
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'not-a-uuid',
  'cDE6MToxCg',
  Buffer.from('p1:18446744073709551615:18446744073709551615').toString('base64url'),
  Buffer.from('p1:-1:-1').toString('base64url'),
  Buffer.from(JSON.stringify(['not-a-date', 'x'])).toString('base64url'),
  Buffer.from(JSON.stringify([1e20])).toString('base64url'),
  `${Buffer.from(JSON.stringify([1e20])).toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA`,
  'ada@example.com',
  'a@b',
  '@',
  '*',
  '&|!():*',
  "'",
  '"',
  '\n\r\t',
];

const HOSTILE_NUMBERS = [-1, 0, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 1e20, 1.5, -0.5, Number.MAX_SAFE_INTEGER, 1e308];

export class RequestGenerator {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly pool: Pool,
  ) {}

  // ---- values ----------------------------------------------------------------------

  private validScalar(typeName: string, argName: string): fc.Arbitrary<Value> {
    const p = this.pool;
    const name = argName.toLowerCase();
    if (typeName === 'ID') {
      const ids = name.includes('customer')
        ? p.customerIds
        : name.includes('product')
          ? p.productIds
          : name.includes('order') || name === 'id'
            ? [...p.orderIds, ...p.customerIds]
            : [...p.orderIds, ...p.customerIds, ...p.productIds];
      return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.uuid() });
    }
    if (typeName === 'Int') {
      if (name === 'timeoutms') return fc.integer({ min: 0, max: 50 });
      if (name === 'first' || name === 'limit') return fc.integer({ min: 1, max: 30 });
      if (name === 'quantity') return fc.integer({ min: 1, max: 5 });
      if (name === 'pricecents') return fc.integer({ min: 1, max: 100_000 });
      if (name.includes('version')) return fc.integer({ min: 0, max: 5 });
      if (name.includes('total')) return fc.integer({ min: 0, max: 1_000_000 });
      return fc.integer({ min: 0, max: 100 });
    }
    if (typeName === 'Float') return fc.double({ min: 0, max: 1000, noNaN: true });
    if (typeName === 'Boolean') return fc.boolean();
    if (typeName === 'DateTime') {
      return fc
        .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString());
    }
    // String
    if (name === 'after') return fc.constantFrom(...p.cursors);
    if (name === 'atleast') return fc.constantFrom(...p.positions);
    if (name === 'email') return fc.emailAddress().filter((e) => e.length <= 200);
    if (name === 'sku') return fc.stringMatching(/^[A-Z]{2,4}-[0-9]{1,6}$/);
    if (name === 'text' || name === 'prefix') {
      return fc.oneof(fc.constantFrom('', 'wid', 'ada', ...p.skus), fc.string({ maxLength: 20 }));
    }
    if (name === 'idempotencykey') return fc.string({ minLength: 1, maxLength: 40 });
    return fc.string({ minLength: 1, maxLength: 40 });
  }

  private hostileScalar(): fc.Arbitrary<Value> {
    return fc.oneof(
      fc.constantFrom(...HOSTILE_STRINGS),
      fc.constantFrom(...HOSTILE_NUMBERS),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.constantFrom<Value>(true, false, null, [], {}, [null], { enum: 'ADMIN' }),
      fc.integer({ min: 1, max: 3_000 }).map((n) => 'ä'.repeat(n)),
    );
  }

  /** A value for an input type: right (valid), one thing wrong (near) or anything (hostile). */
  value(type: GraphQLInputType, argName: string, mode: Mode, depth = 0): fc.Arbitrary<Value> {
    if (depth > 6) return fc.constant(null);
    const wrong = mode === 'hostile' ? this.hostileScalar() : this.nearScalar(type);
    const right = this.validValue(type, argName, mode, depth);
    if (mode === 'valid') return right;
    return fc.oneof({ weight: mode === 'near' ? 4 : 2, arbitrary: right }, { weight: 1, arbitrary: wrong });
  }

  private nearScalar(type: GraphQLInputType): fc.Arbitrary<Value> {
    const named = getNamedType(type);
    if (isEnumType(named)) return fc.constantFrom<Value>({ enum: 'NOT_A_VALUE' }, 'PENDING', { enum: 'pending' });
    if (named.name === 'Int') return fc.constantFrom<Value>(-1, 2 ** 31, 1.5, '3', null, 1e20);
    if (named.name === 'ID') return fc.constantFrom<Value>('', 'nope', 12, '00000000-0000-0000-0000-000000000000');
    if (named.name === 'DateTime') return fc.constantFrom<Value>('yesterday', '2026-13-45T00:00:00Z', 0, '');
    if (named.name === 'Boolean') return fc.constantFrom<Value>('true', 1, null);
    return fc.constantFrom<Value>('', 3, 'x'.repeat(201), null, ['x']);
  }

  private validValue(type: GraphQLInputType, argName: string, mode: Mode, depth: number): fc.Arbitrary<Value> {
    if (isNonNullType(type)) return this.value(type.ofType, argName, mode, depth);
    if (isListType(type)) {
      return fc.array(this.value(type.ofType, argName, mode, depth + 1), {
        minLength: mode === 'valid' ? 1 : 0,
        maxLength: mode === 'hostile' ? 12 : 3,
      });
    }
    if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => ({ enum: v.name })));
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      const entries = fields.map((f) => {
        const required = isNonNullType(f.type);
        const v = this.value(f.type, f.name, mode, depth + 1);
        // Required fields always (near-valid may drop one below), optional ones sometimes.
        return fc.tuple(fc.constant(f.name), required ? fc.constant(true) : fc.boolean(), v);
      });
      const extra =
        mode === 'valid'
          ? fc.constant<[string, Value][]>([])
          : fc.array(fc.tuple(fc.constantFrom('unknown', '__proto__', 'role', 'admin'), this.hostileScalar()), {
              maxLength: 1,
            });
      const requiredAlways = mode === 'near' ? fc.double({ min: 0, max: 1, noNaN: true }) : fc.constant(0);
      return fc.tuple(fc.tuple(...entries), extra, requiredAlways).map(([list, more, dropRoll]) => {
        const out: Record<string, Value> = {};
        for (const [name, present, v] of list) {
          const required = isNonNullType(type.getFields()[name]!.type);
          if (present && !(required && dropRoll >= 0.9)) out[name] = v;
        }
        for (const [k, v] of more) out[k] = v;
        return out;
      });
    }
    const named = getNamedType(type) as GraphQLNamedType;
    return this.validScalar(named.name, argName);
  }

  // ---- selections ------------------------------------------------------------------

  private args(field: GraphQLField<unknown, unknown>, mode: Mode): fc.Arbitrary<[string, Value][]> {
    const list = field.args.map((a: GraphQLArgument) =>
      fc.tuple(
        fc.constant(a.name),
        isNonNullType(a.type) ? fc.constant(true) : fc.boolean(),
        this.value(a.type, a.name, mode),
      ),
    );
    const unknown =
      mode === 'valid'
        ? fc.constant<[string, Value][]>([])
        : fc.array(fc.tuple(fc.constantFrom('bogus', 'where', 'limit'), this.hostileScalar()), { maxLength: 1 });
    return fc
      .tuple(fc.tuple(...list), unknown)
      .map(([entries, extra]) => [
        ...entries.filter(([, present]) => present).map(([name, , v]) => [name, v] as [string, Value]),
        ...extra,
      ]);
  }

  /** A selection set for `type`, up to `depth` levels more. */
  selection(type: GraphQLOutputType, mode: Mode, depth: number): fc.Arbitrary<string> {
    const named = getNamedType(type);
    if (isLeafType(named)) return fc.constant('');
    if (depth <= 0) return fc.constant('{ __typename }');
    if (isUnionType(named) || isInterfaceType(named)) {
      const possible = [...this.schema.getPossibleTypes(named)];
      return fc
        .subarray(possible, { minLength: 1, maxLength: Math.min(3, possible.length) })
        .chain((types) =>
          fc.tuple(...types.map((t) => this.objectSelection(t, mode, depth - 1).map((s) => `... on ${t.name} ${s}`))),
        )
        .map((parts) => `{ __typename ${parts.join(' ')} }`);
    }
    return this.objectSelection(named as GraphQLObjectType, mode, depth);
  }

  private objectSelection(type: GraphQLObjectType, mode: Mode, depth: number): fc.Arbitrary<string> {
    const fields = Object.values(type.getFields());
    const picked = fc.subarray(fields, { minLength: 1, maxLength: Math.min(4, fields.length) });
    return picked.chain((chosen) =>
      fc.tuple(...chosen.map((f) => this.field(f, mode, depth - 1))).map((parts) => `{ ${parts.join(' ')} }`),
    );
  }

  field(field: GraphQLField<unknown, unknown>, mode: Mode, depth: number, alias?: string): fc.Arbitrary<string> {
    return fc.tuple(this.args(field, mode), this.selection(field.type, mode, depth)).map(([args, sub]) => {
      const printed = args.length ? `(${args.map(([n, v]) => `${n}: ${literal(v)}`).join(', ')})` : '';
      return `${alias ? `${alias}: ` : ''}${field.name}${printed} ${sub}`.trim();
    });
  }

  // ---- operations ------------------------------------------------------------------

  private rootFields(root: 'query' | 'mutation') {
    const type = root === 'query' ? this.schema.getQueryType()! : this.schema.getMutationType()!;
    // Rebuilds replace read models wholesale: fuzzing them would measure rebuilds, not input handling.
    return Object.values(type.getFields()).filter((f) => f.name !== 'rebuildProjection');
  }

  /** One operation document: root fields with arguments, sometimes through variables and fragments. */
  operation(
    mode: Mode,
    styles: ('inline' | 'variables' | 'fragment')[] = ['inline', 'variables', 'fragment'],
  ): fc.Arbitrary<{ query: string; variables: Record<string, unknown>; mutation: boolean }> {
    return fc.constantFrom<'query' | 'mutation'>('query', 'query', 'mutation').chain((root) => {
      const fields = this.rootFields(root);
      return fc
        .subarray(fields, { minLength: 1, maxLength: mode === 'hostile' ? 4 : 2 })
        .chain((chosen) =>
          fc.tuple(
            ...chosen.map((f, i) =>
              fc
                .tuple(this.args(f, mode), this.selection(f.type, mode, mode === 'hostile' ? 6 : 3))
                .map(([args, sub]) => ({ field: f, alias: i ? `f${i}` : undefined, args, sub })),
            ),
          ),
        )
        .chain((parts) => fc.record({ parts: fc.constant(parts), style: fc.constantFrom(...styles) }))
        .map(({ parts, style }) => {
          const variables: Record<string, unknown> = {};
          const declarations: string[] = [];
          const printed = parts.map(({ field, alias, args, sub }, i) => {
            const printedArgs = args.map(([name, v], j) => {
              const arg = field.args.find((a) => a.name === name);
              if (style === 'variables' && arg) {
                const variable = `v${i}_${j}`;
                variables[variable] = json(v);
                declarations.push(`$${variable}: ${String(arg.type)}`);
                return `${name}: $${variable}`;
              }
              return `${name}: ${literal(v)}`;
            });
            // Mutation results are unions: __typename says which member came back.
            const selection = root === 'mutation' && sub.startsWith('{') ? `{ __typename ${sub.slice(1)}` : sub;
            return `${alias ? `${alias}: ` : ''}${field.name}${printedArgs.length ? `(${printedArgs.join(', ')})` : ''} ${selection}`;
          });
          const head = `${root} Fuzz${declarations.length ? `(${declarations.join(', ')})` : ''}`;
          const typeName = root === 'query' ? 'Query' : 'Mutation';
          const query =
            style === 'fragment'
              ? `${head} { ...Root } fragment Root on ${typeName} { ${printed.join(' ')} }`
              : `${head} { ${printed.join(' ')} }`;
          return { query, variables, mutation: root === 'mutation' };
        });
    });
  }

  /**
   * A valid operation whose variables carry one hostile string in place of a valid one:
   * the shape passes validation, so the value reaches resolvers, commands and SQL.
   */
  private injected(): fc.Arbitrary<{ query: string; variables: unknown; mutation: boolean }> {
    return fc
      .tuple(
        this.operation('valid', ['variables']),
        fc.nat(),
        fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 300)),
      )
      .map(([op, pick, hostile]) => {
        const paths: (string | number)[][] = [];
        const walk = (value: unknown, path: (string | number)[]) => {
          if (typeof value === 'string') paths.push(path);
          else if (Array.isArray(value)) {
            for (const [i, v] of value.entries()) walk(v, [...path, i]);
          } else if (value && typeof value === 'object')
            for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
        };
        walk(op.variables, []);
        const variables = structuredClone(op.variables) as Record<string, unknown>;
        const path = paths[pick % Math.max(1, paths.length)];
        if (path?.length) {
          let parent = variables as Record<string | number, unknown>;
          for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
          parent[path.at(-1)!] = hostile;
        }
        return { ...op, variables };
      });
  }

  /** Document-level attacks that need no schema knowledge beyond a field name or two. */
  private hostileDocument(): fc.Arbitrary<{ query: string; variables: unknown; mutation: boolean }> {
    const aliasFlood = fc
      .integer({ min: 10, max: 400 })
      .map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: products { id }`).join(' ')} }`);
    const deep = fc
      .integer({ min: 2, max: 40 })
      .map((n) => `{ __schema { types { fields { type ${'{ ofType '.repeat(n)}{ name }${' }'.repeat(n)} } } } }`);
    const directives = fc
      .integer({ min: 1, max: 200 })
      .map((n) => `{ products ${'@include(if: true) '.repeat(n)}{ id } }`);
    const cycle = fc.constant('query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }');
    const unknownDirective = fc.constant('{ products @admin { id } }');
    const garbage = fc.string({ unit: 'binary', maxLength: 300 });
    const truncated = fc
      .tuple(
        fc.constantFrom(
          'mutation { createOrder(input: { customerId: "x", items: [{ productId: "y", quantity: 1 }] }) { __typename } }',
          '{ orders(first: 5, filter: { status: PENDING }) { nodes { id items { sku } } pageInfo { endCursor } } }',
        ),
        fc.nat(),
      )
      .map(([q, cut]) => q.slice(0, cut % q.length));
    const mutationSpam = fc
      .integer({ min: 2, max: 40 })
      .map(
        (n) =>
          `mutation { ...F } fragment F on Mutation { ${Array.from({ length: n }, (_, i) => `m${i}: createCustomer(input: { name: "Spam ${i}", email: "spam${i}@example.com" }) { __typename }`).join(' ')} }`,
      );
    const introspection = fc.constantFrom(
      '{ __schema { types { name fields { name args { name } } } } }',
      '{ __type(name: "Query") { fields { name } } }',
      '{ __typename }',
    );
    const subscriptionOverPost = fc.constant('subscription { projectionPositions { projection position } }');
    return fc
      .oneof(
        aliasFlood,
        deep,
        directives,
        cycle,
        unknownDirective,
        garbage,
        truncated,
        mutationSpam,
        introspection,
        subscriptionOverPost,
      )
      .chain((query) =>
        fc.record({
          query: fc.constant(query),
          variables: fc.oneof(
            fc.constant({}),
            fc.constantFrom<unknown>(null, 'string', 42, [], { __proto__: { admin: true } }),
            fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
          ),
          mutation: fc.constant(query.includes('mutation')),
        }),
      );
  }

  private headers(mode: Mode): fc.Arbitrary<Record<string, string>> {
    const t = this.pool.tokens;
    const good = fc.constantFrom(t.admin, t.admin, t.support, t.customer, t.otherCustomer);
    const auth: fc.Arbitrary<string | undefined> =
      mode === 'valid'
        ? good.map((token) => `Bearer ${token}`)
        : fc.oneof(
            { weight: 6, arbitrary: good.map((token) => `Bearer ${token}`) },
            {
              weight: 1,
              arbitrary: fc.constantFrom<string | undefined>(
                undefined,
                'Bearer',
                'Basic YWRtaW46YWRtaW4=',
                `Bearer ${t.admin.slice(0, -4)}AAAA`,
                `Bearer ${t.admin}.x`,
                `Bearer eyJhbGciOiJub25lIn0.${Buffer.from('{"sub":"x","role":"admin"}').toString('base64url')}.`,
                `Bearer ${'A'.repeat(5_000)}`,
              ),
            },
          );
    return auth.map((authorization) => ({
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(authorization ? { authorization } : {}),
    }));
  }

  /** A whole request of the given kind. */
  request(mode: Mode): fc.Arbitrary<FuzzRequest> {
    const op =
      mode === 'hostile'
        ? fc.oneof(this.operation(mode), this.hostileDocument(), this.injected())
        : this.operation(mode);
    const single = fc.tuple(op, this.headers(mode)).map(
      ([o, headers]): FuzzRequest => ({
        mode,
        method: 'POST',
        path: '/graphql',
        headers,
        body: JSON.stringify({ query: o.query, variables: o.variables }),
        mutation: o.mutation,
        summary: o.query.slice(0, 2_000),
      }),
    );
    if (mode !== 'hostile') return single;
    const batch = fc.tuple(fc.array(this.operation('near'), { minLength: 1, maxLength: 7 }), this.headers('valid')).map(
      ([ops, headers]): FuzzRequest => ({
        mode,
        method: 'POST',
        path: '/graphql',
        headers,
        body: JSON.stringify(ops.map((o) => ({ query: o.query, variables: o.variables }))),
        mutation: ops.some((o) => o.mutation),
        summary: `batch of ${ops.length}: ${ops.map((o) => o.query.slice(0, 300)).join(' | ')}`,
      }),
    );
    const transport = fc
      .tuple(
        this.operation('valid'),
        fc.constantFrom<'GET' | 'PUT' | 'DELETE'>('GET', 'PUT', 'DELETE'),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'),
        fc.constantFrom('{', '[]', '{"query": 5}', 'null', '"x"', '{"query":"{ products { id } }","variables":"{"}'),
        this.headers('valid'),
      )
      .map(([o, method, contentType, rawBody, headers]): FuzzRequest => {
        if (method === 'GET') {
          const params = new URLSearchParams({ query: o.query, variables: JSON.stringify(o.variables) });
          return {
            mode,
            method,
            path: `/graphql?${params}`,
            headers,
            mutation: o.mutation,
            summary: `GET ${o.query.slice(0, 500)}`,
          };
        }
        return {
          mode,
          method,
          path: '/graphql',
          headers: { ...headers, 'content-type': contentType },
          body: rawBody,
          mutation: false,
          summary: `${method} ${contentType} ${rawBody}`,
        };
      });
    return fc.oneof(
      { weight: 6, arbitrary: single },
      { weight: 2, arbitrary: batch },
      { weight: 1, arbitrary: transport },
    );
  }

  /** Valid, near-valid and hostile requests, about 4 : 3 : 3. */
  any(): fc.Arbitrary<FuzzRequest> {
    return fc.oneof(
      { weight: 4, arbitrary: this.request('valid') },
      { weight: 3, arbitrary: this.request('near') },
      { weight: 3, arbitrary: this.request('hostile') },
    );
  }
}
