// GraphQL documents the specs share; `npm run codegen` types them into test/generated.
import { graphql } from '../generated/index.js';

export const CreateCustomer = graphql(`
  mutation CreateCustomer($input: CreateCustomerInput!) {
    createCustomer(input: $input) {
      __typename
      ... on CustomerPayload { position version customer { id name email } }
      ... on ValidationError { message issues { path message } }
      ... on Error { message }
    }
  }
`);

export const RenameCustomer = graphql(`
  mutation RenameCustomer($input: RenameCustomerInput!) {
    renameCustomer(input: $input) {
      __typename
      ... on CustomerPayload { position version customer { id name } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { entity id }
      ... on Error { message }
    }
  }
`);

export const EraseCustomer = graphql(`
  mutation EraseCustomer($input: EraseCustomerInput!) {
    eraseCustomer(input: $input) {
      __typename
      ... on CustomerPayload { position version customer { id name email erased } }
      ... on NotFoundError { entity id }
      ... on Error { message }
    }
  }
`);

export const CreateProduct = graphql(`
  mutation CreateProduct($input: CreateProductInput!) {
    createProduct(input: $input) {
      __typename
      ... on ProductPayload { position version product { id sku name priceCents } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

export const CreateOrder = graphql(`
  mutation CreateOrder($input: CreateOrderInput!) {
    createOrder(input: $input) {
      __typename
      ... on OrderPayload { position version order { id customerId status totalCents version items { lineNo productId quantity unitPriceCents } } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { entity id }
      ... on Error { message }
    }
  }
`);

export const AddOrderItem = graphql(`
  mutation AddOrderItem($input: AddOrderItemInput!) {
    addOrderItem(input: $input) {
      __typename
      ... on OrderPayload { position version order { id totalCents items { lineNo quantity } } }
      ... on ValidationError { issues { path message } }
      ... on NotFoundError { entity id }
      ... on ConcurrencyConflict { expectedVersion currentVersion }
      ... on InvalidTransition { from to allowed }
      ... on Error { message }
    }
  }
`);

export const UpdateOrderStatus = graphql(`
  mutation UpdateOrderStatus($input: UpdateOrderStatusInput!) {
    updateOrderStatus(input: $input) {
      __typename
      ... on OrderPayload { position version order { id status version } }
      ... on ConcurrencyConflict { expectedVersion currentVersion }
      ... on InvalidTransition { from to allowed }
      ... on NotFoundError { entity id }
      ... on Error { message }
    }
  }
`);

export const CancelOrder = graphql(`
  mutation CancelOrder($input: CancelOrderInput!) {
    cancelOrder(input: $input) {
      __typename
      ... on OrderPayload { position version order { id status version } }
      ... on ConcurrencyConflict { expectedVersion currentVersion }
      ... on InvalidTransition { from to allowed }
      ... on NotFoundError { entity id }
      ... on Error { message }
    }
  }
`);

export const Products = graphql(`
  query Products {
    products { id sku name priceCents }
  }
`);

export const SchemaRoot = graphql(`
  query SchemaRoot {
    __schema { queryType { name } }
  }
`);

export const Projections = graphql(`
  query Projections {
    projections {
      name mode state position lagEvents lagMs lastError errorPosition retries eventsApplied
      parkedEvents parkedAggregates unaccountedEvents auditedAt idleMs
    }
  }
`);

export const ResumeProjection = graphql(`
  mutation ResumeProjection($input: ResumeProjectionInput!) {
    resumeProjection(input: $input) {
      __typename
      ... on ProjectionStatus { name state }
      ... on Error { message }
    }
  }
`);

export const ParkedEvents = graphql(`
  query ParkedEvents($projection: ProjectionName!, $state: ParkedState, $first: Int) {
    parkedEvents(projection: $projection, state: $state, first: $first) {
      projection position aggregateType aggregateId aggregateVersion eventType reason error state
      resolvedAt resolvedBy resolvedRole resolutionReason payload
    }
  }
`);

export const RetryParked = graphql(`
  mutation RetryParked($input: RetryParkedInput!) {
    retryParked(input: $input) {
      __typename
      ... on ParkedResolution { projection aggregateId events { position state } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

export const SkipParked = graphql(`
  mutation SkipParked($input: SkipParkedInput!) {
    skipParked(input: $input) {
      __typename
      ... on ParkedResolution { projection aggregateId events { position state } }
      ... on ValidationError { issues { path message } }
      ... on Error { message }
    }
  }
`);

export const VerifyProjection = graphql(`
  query VerifyProjection($name: ProjectionName!) {
    verifyProjection(name: $name) {
      projection rowsChecked
      differences { table key kind }
      parked { aggregateType aggregateId events differences }
    }
  }
`);
