// The authorization matrix, in one place. Every command asks `authorize` before it
// changes anything; ownership rules get the resource's customer id.
import { Forbidden } from '../write/errors.ts';
import type { Subject, UserRole } from './subject.ts';

export type Action =
  | 'createCustomer'
  | 'renameCustomer'
  | 'eraseCustomer'
  | 'createProduct'
  | 'createOrder'
  | 'addOrderItem'
  | 'updateOrderStatus'
  | 'cancelOrder'
  | 'operateProjections';

/** 'own': allowed when the resource belongs to the subject's customerId. */
type Grant = 'all' | 'own' | 'none';

export const MATRIX: Record<Action, Record<UserRole, Grant>> = {
  createCustomer: { admin: 'all', support: 'all', customer: 'none' },
  renameCustomer: { admin: 'all', support: 'all', customer: 'own' },
  eraseCustomer: { admin: 'all', support: 'none', customer: 'none' },
  createProduct: { admin: 'all', support: 'none', customer: 'none' },
  createOrder: { admin: 'all', support: 'none', customer: 'own' },
  addOrderItem: { admin: 'all', support: 'none', customer: 'own' },
  updateOrderStatus: { admin: 'all', support: 'all', customer: 'none' },
  cancelOrder: { admin: 'all', support: 'all', customer: 'own' },
  operateProjections: { admin: 'all', support: 'none', customer: 'none' },
};

export function isAllowed(subject: Subject, action: Action, ownerCustomerId?: string): boolean {
  const grant = MATRIX[action][subject.role];
  if (grant === 'all') return true;
  if (grant === 'own') return ownerCustomerId !== undefined && subject.customerId === ownerCustomerId;
  return false;
}

export function authorize(subject: Subject, action: Action, ownerCustomerId?: string): void {
  if (!isAllowed(subject, action, ownerCustomerId)) {
    throw new Forbidden(
      `${subject.role} may not ${action}${MATRIX[action][subject.role] === 'own' ? ' for another customer' : ''}`,
    );
  }
}
