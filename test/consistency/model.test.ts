// Randomized model-based test of the consistency promise (fast-check, fixed seed). Each
// run is a generated sequence of steps against a real world (see world.ts): bursts of
// concurrent commands from several writers, each followed by a read with its token on
// a random API instance; INLINE/ASYNC modes per projection switched on an instance
// (instances may differ: a rolling deploy); manual rebuilds and version bumps;
// projector SIGKILLs; a transaction holding the outbox horizon; subscribers dropping and
// resuming from their last position. The model keeps every acknowledged command, so
// a read that shows less than its token, or a state no acknowledged command sequence
// produced, is a violation. After each run: read models equal their recomputation,
// every event applied once, every subscriber's view equals the read model.
//
// MODEL_SEED, MODEL_RUNS, MODEL_COMMANDS override the CI defaults;
// `npm run model -- --long` is the soak variant.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/errors.ts';
import { ORDER_STATUSES, type OrderStatus } from '../../src/events/order.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { renameCustomer } from '../../src/write/customer/handle.ts';
import { addOrderItem, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { TRANSITIONS } from '../../src/write/order/status.ts';
import { type ApiInstance, modesFromMask, World } from './world.ts';

const SEED = Number(process.env.MODEL_SEED ?? 14);
const RUNS = Number(process.env.MODEL_RUNS ?? 5);
const COMMANDS = Number(process.env.MODEL_COMMANDS ?? 30);

/** What the acknowledged commands say about one order: its state at each version. */
interface OrderModel {
  id: string;
  customer: number;
  /** version → the change acknowledged at that version. */
  changes: Map<number, { status?: OrderStatus; addedUnits?: number }>;
  created: { units: number };
}

interface Model {
  orders: OrderModel[];
  horizonHeld: boolean;
}

/** The order's status and units at `version`, or undefined when a version up to it is not acknowledged yet. */
function stateAt(order: OrderModel, version: number): { status: OrderStatus; itemCount: number } | undefined {
  let status: OrderStatus = 'PENDING';
  let itemCount = order.created.units;
  for (let v = 2; v <= version; v++) {
    const change = order.changes.get(v);
    if (!change) return undefined;
    if (change.status) status = change.status;
    itemCount += change.addedUnits ?? 0;
  }
  return { status, itemCount };
}

const world = new World();

const READ = `query($id: ID!, $customerId: ID!, $at: String!, $timeoutMs: Int) {
  order(id: $id, consistency: { atLeast: $at, timeoutMs: $timeoutMs }) { version status itemCount customerName }
  customerOrderHistory(customerId: $customerId, first: 100, consistency: { atLeast: $at, timeoutMs: $timeoutMs }) {
    nodes { orderId version }
  }
}`;

/** Reads `order` with the token of a command that brought it to `version` (and its customer to `nameAt`). */
async function readWithToken(
  model: Model,
  api: ApiInstance,
  order: OrderModel,
  token: string,
  version: number,
  nameAt?: number,
): Promise<void> {
  world.figures.tokenReads += 1;
  // A held horizon holds ASYNC projections back: the read may time out, never read stale.
  const timeoutMs = model.horizonHeld ? 300 : 20_000;
  const answer = await api.gql(READ, {
    id: order.id,
    customerId: world.customerIds[order.customer],
    at: token,
    timeoutMs,
  });
  const where = `read of ${order.id} at version ${version} on an instance with ${JSON.stringify(api.modes)}`;
  if (answer.errors?.length) {
    if (answer.errors.every((e) => e.extensions?.code === 'CONSISTENCY_TIMEOUT')) {
      world.figures.readTimeouts += 1;
      if (!model.horizonHeld) world.violations.push(`${where}: timed out with nothing holding the horizon`);
      return;
    }
    world.violations.push(`${where}: ${JSON.stringify(answer.errors)}`);
    return;
  }
  const data = answer.data as {
    order: { version: number; status: OrderStatus; itemCount: number; customerName: string | null } | null;
    customerOrderHistory: { nodes: { orderId: string; version: number }[] };
  };
  if (!data.order || data.order.version < version) {
    world.violations.push(`${where}: order_list_view showed ${JSON.stringify(data.order)}`);
    return;
  }
  const expected = stateAt(order, data.order.version);
  if (expected && (expected.status !== data.order.status || expected.itemCount !== data.order.itemCount)) {
    world.violations.push(
      `${where}: showed ${JSON.stringify(data.order)}, the commands say ${JSON.stringify(expected)}`,
    );
  }
  if (nameAt !== undefined) {
    // Names are unique: each maps to the customer version that set it (0 while its rename is in flight).
    const seen = world.names[order.customer]!.get(data.order.customerName ?? '');
    if (seen === undefined || (seen > 0 && seen < nameAt)) {
      world.violations.push(
        `${where}: customer name ${data.order.customerName}, a rename to customer version ${nameAt} acknowledged`,
      );
    }
  }
  const entries = data.customerOrderHistory.nodes;
  const entry = entries.find((n) => n.orderId === order.id);
  if (entries.length < 100 && (!entry || entry.version < version)) {
    world.violations.push(`${where}: customer_order_history showed ${JSON.stringify(entry)}`);
  }
}

interface Op {
  kind: 'create' | 'add' | 'status' | 'rename';
  a: number;
  b: number;
  write: number;
  read: number;
}

/** One command from its own writer; the acknowledged ones enter the model and are read back with their token. */
async function runOp(model: Model, op: Op, writer: string): Promise<void> {
  const api = world.apis[op.write % world.apis.length]!;
  const reader = world.apis[op.read % world.apis.length]!;
  const ctx = api.writer(writer);
  world.figures.commands += 1;
  try {
    if (op.kind === 'create' || !model.orders.length) {
      const customer = op.a % world.customerIds.length;
      const units = 1 + (op.b % 3);
      const result = await createOrder(ctx, {
        customerId: world.customerIds[customer]!,
        items: [{ productId: world.productIds[op.b % world.productIds.length]!, quantity: units }],
      });
      const order: OrderModel = { id: result.orderId, customer, changes: new Map(), created: { units } };
      model.orders.push(order);
      world.figures.acked += 1;
      await readWithToken(model, reader, order, result.position, result.version);
      return;
    }
    // Mostly the latest orders, so commands on one order from instances in different modes follow each other closely.
    const recent = Math.min(model.orders.length, 4);
    const order = model.orders[model.orders.length - 1 - (op.a % recent)]!;
    if (op.kind === 'add') {
      const units = 1 + (op.b % 4);
      const result = await addOrderItem(ctx, {
        orderId: order.id,
        productId: world.productIds[op.b % world.productIds.length]!,
        quantity: units,
      });
      order.changes.set(result.version, { addedUnits: units });
      world.figures.acked += 1;
      await readWithToken(model, reader, order, result.position, result.version);
    } else if (op.kind === 'status') {
      // Mostly a transition the status machine allows from the latest acknowledged state.
      const latest = stateAt(order, Math.max(1, ...order.changes.keys()));
      const allowed = latest ? TRANSITIONS[latest.status] : [];
      const status = allowed.length && op.b % 4 ? allowed[op.b % allowed.length]! : ORDER_STATUSES[op.b % 5]!;
      const result = await updateOrderStatus(ctx, { orderId: order.id, status });
      order.changes.set(result.version, { status });
      world.figures.acked += 1;
      await readWithToken(model, reader, order, result.position, result.version);
    } else {
      const names = world.names[order.customer]!;
      const name = `Model ${order.customer}#${names.size}`;
      names.set(name, 0);
      const result = await renameCustomer(ctx, { customerId: world.customerIds[order.customer]!, name });
      names.set(name, result.version);
      world.figures.acked += 1;
      // The rename reaches the customer's orders: read one of them with its token.
      await readWithToken(model, reader, order, result.position, 1, result.version);
    }
  } catch (error) {
    // Invalid transitions and the like: a typed rejection, nothing written.
    if (!(error instanceof DomainError)) throw error;
    world.figures.rejected += 1;
  }
}

type Step = fc.AsyncCommand<Model, World>;

function step(
  label: string,
  run: (model: Model) => Promise<void>,
  check: (model: Model) => boolean = () => true,
): Step {
  return { check, run: (model) => run(model), toString: () => label };
}

const opArb = fc.record({
  kind: fc.constantFrom<Op['kind']>('create', 'create', 'add', 'add', 'status', 'status', 'rename'),
  a: fc.nat(),
  b: fc.nat(),
  write: fc.nat(),
  read: fc.nat(),
});

// Several writers at once (each op its own writer's command), or one after another, so
// commands on one order through instances in different modes follow each other closely.
const burst = fc.tuple(fc.array(opArb, { minLength: 1, maxLength: 8 }), fc.boolean()).map(([ops, together]) =>
  step(`${together ? 'burst' : 'sequence'}(${ops.map((o) => `${o.kind}@${o.write % 2}`).join(',')})`, async (model) => {
    if (together) await Promise.all(ops.map((op, i) => runOp(model, op, `writer-${i % 4}`)));
    else for (const [i, op] of ops.entries()) await runOp(model, op, `writer-${i % 4}`);
  }),
);

const switchModes = fc
  .tuple(fc.nat({ max: 1 }), fc.nat({ max: 15 }))
  .map(([index, mask]) =>
    step(`switchModes(api ${index}, ${JSON.stringify(modesFromMask(mask))})`, () =>
      world.switchModes(index, modesFromMask(mask)),
    ),
  );

const killProjector = fc
  .nat({ max: 1 })
  .map((which) => step(`killProjector(${which})`, () => world.killProjector(which)));

const rebuild = fc.constantFrom(...PROJECTION_NAMES).map((name) =>
  step(`rebuild(${name})`, async () => {
    const answer = await world.apis[0]!.gql(
      'mutation($name: ProjectionName!) { rebuildProjection(input: { name: $name }) { __typename } }',
      { name },
    );
    if (answer.errors) throw new Error(`rebuildProjection: ${JSON.stringify(answer.errors)}`);
    world.figures.rebuilds += 1;
  }),
);

// A deploy of a new projection version: the live read model's version differs from the
// code's, and the next projector to start rebuilds it.
const versionBump = fc.tuple(fc.constantFrom(...PROJECTION_NAMES), fc.nat({ max: 1 })).map(([name, which]) =>
  step(`versionBump(${name})`, async () => {
    await world.pool.query('UPDATE projection_versions SET version = version + 1 WHERE name = $1', [name]);
    world.figures.rebuilds += 1;
    await world.killProjector(which);
  }),
);

const holdHorizon = fc.constant(
  step(
    'holdHorizon',
    async (model) => {
      await world.holdHorizon();
      model.horizonHeld = true;
    },
    (model) => !model.horizonHeld,
  ),
);

const releaseHorizon = fc.constant(
  step(
    'releaseHorizon',
    async (model) => {
      await world.releaseHorizon();
      model.horizonHeld = false;
    },
    (model) => model.horizonHeld,
  ),
);

const resubscribe = fc
  .tuple(fc.nat({ max: 1 }), fc.nat({ max: 1 }))
  .map(([follower, api]) =>
    step(`resubscribe(${follower} on api ${api})`, () => world.followers[follower]!.resume(world.apis[api]!)),
  );

const steps = fc.commands(
  [
    burst,
    burst,
    burst,
    burst,
    switchModes,
    killProjector,
    rebuild,
    versionBump,
    holdHorizon,
    releaseHorizon,
    resubscribe,
  ],
  { maxCommands: COMMANDS, size: 'max' },
);

beforeAll(async () => world.start(), 180_000);
afterAll(async () => world.stop());

describe('the consistency model', () => {
  it(`holds over ${RUNS} randomized runs of up to ${COMMANDS} steps (seed ${SEED})`, async () => {
    const runs: { steps: string; problems: string[] }[] = [];
    await fc.assert(
      fc.asyncProperty(steps, async (cmds) => {
        const model: Model = { orders: [], horizonHeld: false };
        await fc.asyncModelRun(() => ({ model, real: world }), cmds);
        const problems = await world.settle();
        runs.push({ steps: String(cmds), problems });
        expect(problems, String(cmds)).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`model test: ${runs.length} runs, ${JSON.stringify(world.figures)}`);
    expect(runs).toHaveLength(RUNS);
    expect(world.figures.acked).toBeGreaterThan(0);
    expect(world.figures.tokenReads).toBeGreaterThan(0);
  }, 1_800_000);
});
