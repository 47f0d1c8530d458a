export interface CustomerCreated {
  type: 'CustomerCreated';
  data: { customerId: string; name: string; email: string };
}
export interface CustomerRenamed {
  type: 'CustomerRenamed';
  data: { customerId: string; name: string };
}
/** GDPR erasure: name and email are gone from here on; orders stay, anonymized. */
export interface CustomerErased {
  type: 'CustomerErased';
  data: { customerId: string };
}
export type CustomerEvent = CustomerCreated | CustomerRenamed | CustomerErased;
