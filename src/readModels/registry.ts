import type { Sql } from '../db/sql.ts';
import type { Projection, ProjectionName } from '../projections/projection.ts';
import { type VerificationReport, verify } from '../projections/verify.ts';
import { customerOrderHistoryProjection } from './customerOrderHistory/projection.ts';
import { orderAnalyticsProjection } from './orderAnalytics/projection.ts';
import { orderListViewProjection } from './orderListView/projection.ts';
import { orderSearchProjection } from './orderSearch/projection.ts';

export const ALL_PROJECTIONS: Projection[] = [
  orderListViewProjection,
  customerOrderHistoryProjection,
  orderSearchProjection,
  orderAnalyticsProjection,
];

/** Recomputes read model `name` from the write tables and compares (see projections/verify.ts). */
/** `sql`: the read database; `write`: the write database when it is another one. */
export function verifyProjection(
  sql: Sql,
  name: ProjectionName,
  maxDifferences?: number,
  write?: Sql,
): Promise<VerificationReport> {
  const projection = ALL_PROJECTIONS.find((p) => p.name === name);
  if (!projection) throw new Error(`no projection ${name}`);
  return verify(sql, projection, maxDifferences, write);
}
