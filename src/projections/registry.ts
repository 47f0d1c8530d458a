import { customerOrderHistoryProjection } from './customerOrderHistory.ts';
import { orderAnalyticsProjection } from './orderAnalytics.ts';
import { orderListViewProjection } from './orderListView.ts';
import { orderSearchProjection } from './orderSearch.ts';
import type { Projection } from './projection.ts';

export const ALL_PROJECTIONS: Projection[] = [
  orderListViewProjection,
  customerOrderHistoryProjection,
  orderSearchProjection,
  orderAnalyticsProjection,
];
