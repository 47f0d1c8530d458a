/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query CustomerById($id: ID!) {\n    customer(id: $id) { id name email }\n  }\n": typeof types.CustomerByIdDocument,
    "\n  mutation ResumeSearch {\n    resumeProjection(input: { name: order_search }) {\n      __typename\n      ... on ProjectionStatus { name state }\n    }\n  }\n": typeof types.ResumeSearchDocument,
    "\n  query OrderAt($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id version customerName lineCount }\n  }\n": typeof types.OrderAtDocument,
    "\n  mutation Rebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state rebuild { processed total reason } }\n      ... on Error { message }\n    }\n  }\n": typeof types.RebuildDocument,
    "\n  query Verify($name: ProjectionName!) {\n    verifyProjection(name: $name) { projection rowsChecked differences { table key kind fields { field expected actual } } }\n  }\n": typeof types.VerifyDocument,
    "\n  query Reader { orders(first: 50) { totalCount nodes { id } } }\n": typeof types.ReaderDocument,
    "\n  query RebuildStatus { projections { name state version rebuild { processed total etaMs } } }\n": typeof types.RebuildStatusDocument,
    "\n  query ShapeReader { orders(first: 50) { totalCount nodes { id currency } } }\n": typeof types.ShapeReaderDocument,
    "\n  query ShapeVerify { verifyProjection(name: order_list_view) { rowsChecked differences { table key kind } } }\n": typeof types.ShapeVerifyDocument,
    "\n  query ProjectionLag {\n    projections { name state lagEvents lagMs }\n    outbox { head horizonHolders { pid ageMs query applicationName } }\n  }\n": typeof types.ProjectionLagDocument,
    "\n  query UpcastHistory($id: ID!) {\n    orderHistory(id: $id) { type version payload }\n  }\n": typeof types.UpcastHistoryDocument,
    "\n  query OrdersPage($first: Int, $after: String, $filter: OrderFilter) {\n    orders(first: $first, after: $after, filter: $filter) {\n      nodes { id customerName customerEmail status totalCents itemCount items { sku productName quantity } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.OrdersPageDocument,
    "\n  query Search($text: String!, $filters: OrderFilter, $first: Int) {\n    searchOrders(text: $text, filters: $filters, first: $first) {\n      total\n      hits { orderId customerName skus productNames status totalCents }\n      facets { status { status count } amount { key count } createdAt { from to } }\n    }\n  }\n": typeof types.SearchDocument,
    "\n  query Suggest($prefix: String!, $limit: Int) { autocomplete(prefix: $prefix, limit: $limit) { term kind orders } }\n": typeof types.SuggestDocument,
    "\n  query History($customerId: ID!, $first: Int, $after: String) {\n    customerOrderHistory(customerId: $customerId, first: $first, after: $after) {\n      nodes { orderId summary { status totalCents customerName lineCount } itemsPreview { lineNo sku } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.HistoryDocument,
    "\n  query Analytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n": typeof types.AnalyticsDocument,
    "\n  query CachedPage($customerId: ID, $consistency: ConsistencyInput) {\n    orders(first: 50, filter: { customerId: $customerId }, consistency: $consistency) {\n      nodes { id customerId customerEmail }\n    }\n  }\n": typeof types.CachedPageDocument,
    "\n  mutation PlaceOrder($input: CreateOrderInput!, $consistency: MutationConsistencyInput) {\n    createOrder(input: $input, consistency: $consistency) {\n      __typename\n      ... on OrderPayload { position order { id } }\n    }\n  }\n": typeof types.PlaceOrderDocument,
    "\n  query OrderById($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id status totalCents customerName items { sku quantity } }\n  }\n": typeof types.OrderByIdDocument,
    "\n  query ErasureOrders($filter: OrderFilter) {\n    orders(first: 200, filter: $filter) {\n      nodes { id customerId customerName customerEmail status totalCents itemCount }\n    }\n  }\n": typeof types.ErasureOrdersDocument,
    "\n  query ErasureSearch($text: String!) {\n    searchOrders(text: $text, first: 50) { total hits { orderId customerId customerName } }\n  }\n": typeof types.ErasureSearchDocument,
    "\n  query ErasureSuggest($prefix: String!) { autocomplete(prefix: $prefix, limit: 20) { term kind orders } }\n": typeof types.ErasureSuggestDocument,
    "\n  query ErasureHistory($customerId: ID!) {\n    customerOrderHistory(customerId: $customerId, first: 50) {\n      nodes { orderId summary { status totalCents customerName } }\n    }\n  }\n": typeof types.ErasureHistoryDocument,
    "\n  query ErasureAnalytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n": typeof types.ErasureAnalyticsDocument,
    "\n  query ErasureCustomerView($id: ID!) { customer(id: $id) { id name email erased } }\n": typeof types.ErasureCustomerViewDocument,
    "\n  mutation ErasureRebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": typeof types.ErasureRebuildDocument,
    "\n  query ErasureProjections { projections { name state lastError } }\n": typeof types.ErasureProjectionsDocument,
    "\n  mutation ErasureResume($name: ProjectionName!) {\n    resumeProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": typeof types.ErasureResumeDocument,
    "\n  mutation CreateCustomer($input: CreateCustomerInput!) {\n    createCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email } }\n      ... on ValidationError { message issues { path message } }\n      ... on Error { message }\n    }\n  }\n": typeof types.CreateCustomerDocument,
    "\n  mutation RenameCustomer($input: RenameCustomerInput!) {\n    renameCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": typeof types.RenameCustomerDocument,
    "\n  mutation EraseCustomer($input: EraseCustomerInput!) {\n    eraseCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email erased } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": typeof types.EraseCustomerDocument,
    "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on ProductPayload { position version product { id sku name priceCents } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": typeof types.CreateProductDocument,
    "\n  mutation CreateOrder($input: CreateOrderInput!) {\n    createOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id customerId status totalCents version items { lineNo productId quantity unitPriceCents } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": typeof types.CreateOrderDocument,
    "\n  mutation AddOrderItem($input: AddOrderItemInput!) {\n    addOrderItem(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id totalCents items { lineNo quantity } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on Error { message }\n    }\n  }\n": typeof types.AddOrderItemDocument,
    "\n  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {\n    updateOrderStatus(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": typeof types.UpdateOrderStatusDocument,
    "\n  mutation CancelOrder($input: CancelOrderInput!) {\n    cancelOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": typeof types.CancelOrderDocument,
    "\n  query Products {\n    products { id sku name priceCents }\n  }\n": typeof types.ProductsDocument,
    "\n  query SchemaRoot {\n    __schema { queryType { name } }\n  }\n": typeof types.SchemaRootDocument,
    "\n  query Projections {\n    projections {\n      name mode state position lagEvents lagMs lastError errorPosition retries eventsApplied\n      parkedEvents parkedAggregates unaccountedEvents auditedAt idleMs\n    }\n  }\n": typeof types.ProjectionsDocument,
    "\n  mutation ResumeProjection($input: ResumeProjectionInput!) {\n    resumeProjection(input: $input) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": typeof types.ResumeProjectionDocument,
    "\n  query ParkedEvents($projection: ProjectionName!, $state: ParkedState, $first: Int) {\n    parkedEvents(projection: $projection, state: $state, first: $first) {\n      projection position aggregateType aggregateId aggregateVersion eventType reason error state\n      resolvedAt resolvedBy resolvedRole resolutionReason payload\n    }\n  }\n": typeof types.ParkedEventsDocument,
    "\n  mutation RetryParked($input: RetryParkedInput!) {\n    retryParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": typeof types.RetryParkedDocument,
    "\n  mutation SkipParked($input: SkipParkedInput!) {\n    skipParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": typeof types.SkipParkedDocument,
    "\n  query VerifyProjection($name: ProjectionName!) {\n    verifyProjection(name: $name) {\n      projection rowsChecked\n      differences { table key kind }\n      parked { aggregateType aggregateId events differences }\n    }\n  }\n": typeof types.VerifyProjectionDocument,
};
const documents: Documents = {
    "\n  query CustomerById($id: ID!) {\n    customer(id: $id) { id name email }\n  }\n": types.CustomerByIdDocument,
    "\n  mutation ResumeSearch {\n    resumeProjection(input: { name: order_search }) {\n      __typename\n      ... on ProjectionStatus { name state }\n    }\n  }\n": types.ResumeSearchDocument,
    "\n  query OrderAt($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id version customerName lineCount }\n  }\n": types.OrderAtDocument,
    "\n  mutation Rebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state rebuild { processed total reason } }\n      ... on Error { message }\n    }\n  }\n": types.RebuildDocument,
    "\n  query Verify($name: ProjectionName!) {\n    verifyProjection(name: $name) { projection rowsChecked differences { table key kind fields { field expected actual } } }\n  }\n": types.VerifyDocument,
    "\n  query Reader { orders(first: 50) { totalCount nodes { id } } }\n": types.ReaderDocument,
    "\n  query RebuildStatus { projections { name state version rebuild { processed total etaMs } } }\n": types.RebuildStatusDocument,
    "\n  query ShapeReader { orders(first: 50) { totalCount nodes { id currency } } }\n": types.ShapeReaderDocument,
    "\n  query ShapeVerify { verifyProjection(name: order_list_view) { rowsChecked differences { table key kind } } }\n": types.ShapeVerifyDocument,
    "\n  query ProjectionLag {\n    projections { name state lagEvents lagMs }\n    outbox { head horizonHolders { pid ageMs query applicationName } }\n  }\n": types.ProjectionLagDocument,
    "\n  query UpcastHistory($id: ID!) {\n    orderHistory(id: $id) { type version payload }\n  }\n": types.UpcastHistoryDocument,
    "\n  query OrdersPage($first: Int, $after: String, $filter: OrderFilter) {\n    orders(first: $first, after: $after, filter: $filter) {\n      nodes { id customerName customerEmail status totalCents itemCount items { sku productName quantity } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.OrdersPageDocument,
    "\n  query Search($text: String!, $filters: OrderFilter, $first: Int) {\n    searchOrders(text: $text, filters: $filters, first: $first) {\n      total\n      hits { orderId customerName skus productNames status totalCents }\n      facets { status { status count } amount { key count } createdAt { from to } }\n    }\n  }\n": types.SearchDocument,
    "\n  query Suggest($prefix: String!, $limit: Int) { autocomplete(prefix: $prefix, limit: $limit) { term kind orders } }\n": types.SuggestDocument,
    "\n  query History($customerId: ID!, $first: Int, $after: String) {\n    customerOrderHistory(customerId: $customerId, first: $first, after: $after) {\n      nodes { orderId summary { status totalCents customerName lineCount } itemsPreview { lineNo sku } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.HistoryDocument,
    "\n  query Analytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n": types.AnalyticsDocument,
    "\n  query CachedPage($customerId: ID, $consistency: ConsistencyInput) {\n    orders(first: 50, filter: { customerId: $customerId }, consistency: $consistency) {\n      nodes { id customerId customerEmail }\n    }\n  }\n": types.CachedPageDocument,
    "\n  mutation PlaceOrder($input: CreateOrderInput!, $consistency: MutationConsistencyInput) {\n    createOrder(input: $input, consistency: $consistency) {\n      __typename\n      ... on OrderPayload { position order { id } }\n    }\n  }\n": types.PlaceOrderDocument,
    "\n  query OrderById($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id status totalCents customerName items { sku quantity } }\n  }\n": types.OrderByIdDocument,
    "\n  query ErasureOrders($filter: OrderFilter) {\n    orders(first: 200, filter: $filter) {\n      nodes { id customerId customerName customerEmail status totalCents itemCount }\n    }\n  }\n": types.ErasureOrdersDocument,
    "\n  query ErasureSearch($text: String!) {\n    searchOrders(text: $text, first: 50) { total hits { orderId customerId customerName } }\n  }\n": types.ErasureSearchDocument,
    "\n  query ErasureSuggest($prefix: String!) { autocomplete(prefix: $prefix, limit: 20) { term kind orders } }\n": types.ErasureSuggestDocument,
    "\n  query ErasureHistory($customerId: ID!) {\n    customerOrderHistory(customerId: $customerId, first: 50) {\n      nodes { orderId summary { status totalCents customerName } }\n    }\n  }\n": types.ErasureHistoryDocument,
    "\n  query ErasureAnalytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n": types.ErasureAnalyticsDocument,
    "\n  query ErasureCustomerView($id: ID!) { customer(id: $id) { id name email erased } }\n": types.ErasureCustomerViewDocument,
    "\n  mutation ErasureRebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": types.ErasureRebuildDocument,
    "\n  query ErasureProjections { projections { name state lastError } }\n": types.ErasureProjectionsDocument,
    "\n  mutation ErasureResume($name: ProjectionName!) {\n    resumeProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": types.ErasureResumeDocument,
    "\n  mutation CreateCustomer($input: CreateCustomerInput!) {\n    createCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email } }\n      ... on ValidationError { message issues { path message } }\n      ... on Error { message }\n    }\n  }\n": types.CreateCustomerDocument,
    "\n  mutation RenameCustomer($input: RenameCustomerInput!) {\n    renameCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": types.RenameCustomerDocument,
    "\n  mutation EraseCustomer($input: EraseCustomerInput!) {\n    eraseCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email erased } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": types.EraseCustomerDocument,
    "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on ProductPayload { position version product { id sku name priceCents } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": types.CreateProductDocument,
    "\n  mutation CreateOrder($input: CreateOrderInput!) {\n    createOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id customerId status totalCents version items { lineNo productId quantity unitPriceCents } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": types.CreateOrderDocument,
    "\n  mutation AddOrderItem($input: AddOrderItemInput!) {\n    addOrderItem(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id totalCents items { lineNo quantity } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on Error { message }\n    }\n  }\n": types.AddOrderItemDocument,
    "\n  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {\n    updateOrderStatus(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": types.UpdateOrderStatusDocument,
    "\n  mutation CancelOrder($input: CancelOrderInput!) {\n    cancelOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n": types.CancelOrderDocument,
    "\n  query Products {\n    products { id sku name priceCents }\n  }\n": types.ProductsDocument,
    "\n  query SchemaRoot {\n    __schema { queryType { name } }\n  }\n": types.SchemaRootDocument,
    "\n  query Projections {\n    projections {\n      name mode state position lagEvents lagMs lastError errorPosition retries eventsApplied\n      parkedEvents parkedAggregates unaccountedEvents auditedAt idleMs\n    }\n  }\n": types.ProjectionsDocument,
    "\n  mutation ResumeProjection($input: ResumeProjectionInput!) {\n    resumeProjection(input: $input) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n": types.ResumeProjectionDocument,
    "\n  query ParkedEvents($projection: ProjectionName!, $state: ParkedState, $first: Int) {\n    parkedEvents(projection: $projection, state: $state, first: $first) {\n      projection position aggregateType aggregateId aggregateVersion eventType reason error state\n      resolvedAt resolvedBy resolvedRole resolutionReason payload\n    }\n  }\n": types.ParkedEventsDocument,
    "\n  mutation RetryParked($input: RetryParkedInput!) {\n    retryParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": types.RetryParkedDocument,
    "\n  mutation SkipParked($input: SkipParkedInput!) {\n    skipParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n": types.SkipParkedDocument,
    "\n  query VerifyProjection($name: ProjectionName!) {\n    verifyProjection(name: $name) {\n      projection rowsChecked\n      differences { table key kind }\n      parked { aggregateType aggregateId events differences }\n    }\n  }\n": types.VerifyProjectionDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CustomerById($id: ID!) {\n    customer(id: $id) { id name email }\n  }\n"): (typeof documents)["\n  query CustomerById($id: ID!) {\n    customer(id: $id) { id name email }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResumeSearch {\n    resumeProjection(input: { name: order_search }) {\n      __typename\n      ... on ProjectionStatus { name state }\n    }\n  }\n"): (typeof documents)["\n  mutation ResumeSearch {\n    resumeProjection(input: { name: order_search }) {\n      __typename\n      ... on ProjectionStatus { name state }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrderAt($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id version customerName lineCount }\n  }\n"): (typeof documents)["\n  query OrderAt($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id version customerName lineCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Rebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state rebuild { processed total reason } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation Rebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state rebuild { processed total reason } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Verify($name: ProjectionName!) {\n    verifyProjection(name: $name) { projection rowsChecked differences { table key kind fields { field expected actual } } }\n  }\n"): (typeof documents)["\n  query Verify($name: ProjectionName!) {\n    verifyProjection(name: $name) { projection rowsChecked differences { table key kind fields { field expected actual } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Reader { orders(first: 50) { totalCount nodes { id } } }\n"): (typeof documents)["\n  query Reader { orders(first: 50) { totalCount nodes { id } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RebuildStatus { projections { name state version rebuild { processed total etaMs } } }\n"): (typeof documents)["\n  query RebuildStatus { projections { name state version rebuild { processed total etaMs } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ShapeReader { orders(first: 50) { totalCount nodes { id currency } } }\n"): (typeof documents)["\n  query ShapeReader { orders(first: 50) { totalCount nodes { id currency } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ShapeVerify { verifyProjection(name: order_list_view) { rowsChecked differences { table key kind } } }\n"): (typeof documents)["\n  query ShapeVerify { verifyProjection(name: order_list_view) { rowsChecked differences { table key kind } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ProjectionLag {\n    projections { name state lagEvents lagMs }\n    outbox { head horizonHolders { pid ageMs query applicationName } }\n  }\n"): (typeof documents)["\n  query ProjectionLag {\n    projections { name state lagEvents lagMs }\n    outbox { head horizonHolders { pid ageMs query applicationName } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query UpcastHistory($id: ID!) {\n    orderHistory(id: $id) { type version payload }\n  }\n"): (typeof documents)["\n  query UpcastHistory($id: ID!) {\n    orderHistory(id: $id) { type version payload }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrdersPage($first: Int, $after: String, $filter: OrderFilter) {\n    orders(first: $first, after: $after, filter: $filter) {\n      nodes { id customerName customerEmail status totalCents itemCount items { sku productName quantity } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query OrdersPage($first: Int, $after: String, $filter: OrderFilter) {\n    orders(first: $first, after: $after, filter: $filter) {\n      nodes { id customerName customerEmail status totalCents itemCount items { sku productName quantity } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Search($text: String!, $filters: OrderFilter, $first: Int) {\n    searchOrders(text: $text, filters: $filters, first: $first) {\n      total\n      hits { orderId customerName skus productNames status totalCents }\n      facets { status { status count } amount { key count } createdAt { from to } }\n    }\n  }\n"): (typeof documents)["\n  query Search($text: String!, $filters: OrderFilter, $first: Int) {\n    searchOrders(text: $text, filters: $filters, first: $first) {\n      total\n      hits { orderId customerName skus productNames status totalCents }\n      facets { status { status count } amount { key count } createdAt { from to } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Suggest($prefix: String!, $limit: Int) { autocomplete(prefix: $prefix, limit: $limit) { term kind orders } }\n"): (typeof documents)["\n  query Suggest($prefix: String!, $limit: Int) { autocomplete(prefix: $prefix, limit: $limit) { term kind orders } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query History($customerId: ID!, $first: Int, $after: String) {\n    customerOrderHistory(customerId: $customerId, first: $first, after: $after) {\n      nodes { orderId summary { status totalCents customerName lineCount } itemsPreview { lineNo sku } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query History($customerId: ID!, $first: Int, $after: String) {\n    customerOrderHistory(customerId: $customerId, first: $first, after: $after) {\n      nodes { orderId summary { status totalCents customerName lineCount } itemsPreview { lineNo sku } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Analytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n"): (typeof documents)["\n  query Analytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CachedPage($customerId: ID, $consistency: ConsistencyInput) {\n    orders(first: 50, filter: { customerId: $customerId }, consistency: $consistency) {\n      nodes { id customerId customerEmail }\n    }\n  }\n"): (typeof documents)["\n  query CachedPage($customerId: ID, $consistency: ConsistencyInput) {\n    orders(first: 50, filter: { customerId: $customerId }, consistency: $consistency) {\n      nodes { id customerId customerEmail }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PlaceOrder($input: CreateOrderInput!, $consistency: MutationConsistencyInput) {\n    createOrder(input: $input, consistency: $consistency) {\n      __typename\n      ... on OrderPayload { position order { id } }\n    }\n  }\n"): (typeof documents)["\n  mutation PlaceOrder($input: CreateOrderInput!, $consistency: MutationConsistencyInput) {\n    createOrder(input: $input, consistency: $consistency) {\n      __typename\n      ... on OrderPayload { position order { id } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrderById($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id status totalCents customerName items { sku quantity } }\n  }\n"): (typeof documents)["\n  query OrderById($id: ID!, $consistency: ConsistencyInput) {\n    order(id: $id, consistency: $consistency) { id status totalCents customerName items { sku quantity } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureOrders($filter: OrderFilter) {\n    orders(first: 200, filter: $filter) {\n      nodes { id customerId customerName customerEmail status totalCents itemCount }\n    }\n  }\n"): (typeof documents)["\n  query ErasureOrders($filter: OrderFilter) {\n    orders(first: 200, filter: $filter) {\n      nodes { id customerId customerName customerEmail status totalCents itemCount }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureSearch($text: String!) {\n    searchOrders(text: $text, first: 50) { total hits { orderId customerId customerName } }\n  }\n"): (typeof documents)["\n  query ErasureSearch($text: String!) {\n    searchOrders(text: $text, first: 50) { total hits { orderId customerId customerName } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureSuggest($prefix: String!) { autocomplete(prefix: $prefix, limit: 20) { term kind orders } }\n"): (typeof documents)["\n  query ErasureSuggest($prefix: String!) { autocomplete(prefix: $prefix, limit: 20) { term kind orders } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureHistory($customerId: ID!) {\n    customerOrderHistory(customerId: $customerId, first: 50) {\n      nodes { orderId summary { status totalCents customerName } }\n    }\n  }\n"): (typeof documents)["\n  query ErasureHistory($customerId: ID!) {\n    customerOrderHistory(customerId: $customerId, first: 50) {\n      nodes { orderId summary { status totalCents customerName } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureAnalytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n"): (typeof documents)["\n  query ErasureAnalytics($from: DateTime!, $to: DateTime!) {\n    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureCustomerView($id: ID!) { customer(id: $id) { id name email erased } }\n"): (typeof documents)["\n  query ErasureCustomerView($id: ID!) { customer(id: $id) { id name email erased } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ErasureRebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation ErasureRebuild($name: ProjectionName!) {\n    rebuildProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ErasureProjections { projections { name state lastError } }\n"): (typeof documents)["\n  query ErasureProjections { projections { name state lastError } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ErasureResume($name: ProjectionName!) {\n    resumeProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation ErasureResume($name: ProjectionName!) {\n    resumeProjection(input: { name: $name }) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCustomer($input: CreateCustomerInput!) {\n    createCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email } }\n      ... on ValidationError { message issues { path message } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateCustomer($input: CreateCustomerInput!) {\n    createCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email } }\n      ... on ValidationError { message issues { path message } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RenameCustomer($input: RenameCustomerInput!) {\n    renameCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation RenameCustomer($input: RenameCustomerInput!) {\n    renameCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EraseCustomer($input: EraseCustomerInput!) {\n    eraseCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email erased } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation EraseCustomer($input: EraseCustomerInput!) {\n    eraseCustomer(input: $input) {\n      __typename\n      ... on CustomerPayload { position version customer { id name email erased } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on ProductPayload { position version product { id sku name priceCents } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on ProductPayload { position version product { id sku name priceCents } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateOrder($input: CreateOrderInput!) {\n    createOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id customerId status totalCents version items { lineNo productId quantity unitPriceCents } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateOrder($input: CreateOrderInput!) {\n    createOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id customerId status totalCents version items { lineNo productId quantity unitPriceCents } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddOrderItem($input: AddOrderItemInput!) {\n    addOrderItem(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id totalCents items { lineNo quantity } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation AddOrderItem($input: AddOrderItemInput!) {\n    addOrderItem(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id totalCents items { lineNo quantity } } }\n      ... on ValidationError { issues { path message } }\n      ... on NotFoundError { entity id }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {\n    updateOrderStatus(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {\n    updateOrderStatus(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelOrder($input: CancelOrderInput!) {\n    cancelOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation CancelOrder($input: CancelOrderInput!) {\n    cancelOrder(input: $input) {\n      __typename\n      ... on OrderPayload { position version order { id status version } }\n      ... on ConcurrencyConflict { expectedVersion currentVersion }\n      ... on InvalidTransition { from to allowed }\n      ... on NotFoundError { entity id }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Products {\n    products { id sku name priceCents }\n  }\n"): (typeof documents)["\n  query Products {\n    products { id sku name priceCents }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SchemaRoot {\n    __schema { queryType { name } }\n  }\n"): (typeof documents)["\n  query SchemaRoot {\n    __schema { queryType { name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Projections {\n    projections {\n      name mode state position lagEvents lagMs lastError errorPosition retries eventsApplied\n      parkedEvents parkedAggregates unaccountedEvents auditedAt idleMs\n    }\n  }\n"): (typeof documents)["\n  query Projections {\n    projections {\n      name mode state position lagEvents lagMs lastError errorPosition retries eventsApplied\n      parkedEvents parkedAggregates unaccountedEvents auditedAt idleMs\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResumeProjection($input: ResumeProjectionInput!) {\n    resumeProjection(input: $input) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation ResumeProjection($input: ResumeProjectionInput!) {\n    resumeProjection(input: $input) {\n      __typename\n      ... on ProjectionStatus { name state }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ParkedEvents($projection: ProjectionName!, $state: ParkedState, $first: Int) {\n    parkedEvents(projection: $projection, state: $state, first: $first) {\n      projection position aggregateType aggregateId aggregateVersion eventType reason error state\n      resolvedAt resolvedBy resolvedRole resolutionReason payload\n    }\n  }\n"): (typeof documents)["\n  query ParkedEvents($projection: ProjectionName!, $state: ParkedState, $first: Int) {\n    parkedEvents(projection: $projection, state: $state, first: $first) {\n      projection position aggregateType aggregateId aggregateVersion eventType reason error state\n      resolvedAt resolvedBy resolvedRole resolutionReason payload\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RetryParked($input: RetryParkedInput!) {\n    retryParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation RetryParked($input: RetryParkedInput!) {\n    retryParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SkipParked($input: SkipParkedInput!) {\n    skipParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation SkipParked($input: SkipParkedInput!) {\n    skipParked(input: $input) {\n      __typename\n      ... on ParkedResolution { projection aggregateId events { position state } }\n      ... on ValidationError { issues { path message } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query VerifyProjection($name: ProjectionName!) {\n    verifyProjection(name: $name) {\n      projection rowsChecked\n      differences { table key kind }\n      parked { aggregateType aggregateId events differences }\n    }\n  }\n"): (typeof documents)["\n  query VerifyProjection($name: ProjectionName!) {\n    verifyProjection(name: $name) {\n      projection rowsChecked\n      differences { table key kind }\n      parked { aggregateType aggregateId events differences }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;