export interface CreateCustomer {
  type: 'CreateCustomer';
  customerId: string;
  name: string;
  email: string;
}
export interface RenameCustomer {
  type: 'RenameCustomer';
  customerId: string;
  name: string;
}
export interface EraseCustomer {
  type: 'EraseCustomer';
  customerId: string;
}
export type CustomerCommand = CreateCustomer | RenameCustomer | EraseCustomer;

export interface CustomerState {
  id: string;
  name: string | null;
  version: number;
  erased: boolean;
}
