// Name and email are personal data: `eraseCustomer` sets them to null in every stored
// event of the customer (see erasure.ts), so a consumer reading the outbox, such as a
// projection replaying it, finds null there for an erased customer.
export interface CustomerCreated {
  type: 'CustomerCreated';
  data: { customerId: string; name: string | null; email: string | null };
}
export interface CustomerRenamed {
  type: 'CustomerRenamed';
  data: { customerId: string; name: string | null };
}
/** GDPR erasure: name and email are gone from here on; orders stay, anonymized. */
export interface CustomerErased {
  type: 'CustomerErased';
  data: { customerId: string };
}
export type CustomerEvent = CustomerCreated | CustomerRenamed | CustomerErased;
