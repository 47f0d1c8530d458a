import { assertNever, checkName, Issues, NotFoundError } from '../../errors.ts';
import type { CustomerEvent } from '../../events/customer.ts';
import type { CustomerCommand, CustomerState } from './commands.ts';

// Deliberately simple: one @, no spaces, a dot in the domain. Real verification is a mail.
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
const EMAIL_MAX = 320;

export function decideCustomer(command: CustomerCommand, state: CustomerState | null): CustomerEvent[] {
  switch (command.type) {
    case 'CreateCustomer': {
      const issues = new Issues();
      checkName(issues, ['input', 'name'], command.name);
      if (command.email.length > EMAIL_MAX || !EMAIL.test(command.email)) {
        issues.add(['input', 'email'], 'must be an email address');
      }
      issues.throwIfAny();
      return [
        {
          type: 'CustomerCreated',
          data: { customerId: command.customerId, name: command.name.trim(), email: command.email.toLowerCase() },
        },
      ];
    }
    case 'RenameCustomer': {
      const issues = new Issues();
      checkName(issues, ['input', 'name'], command.name);
      issues.throwIfAny();
      if (!state || state.erased) throw new NotFoundError('Customer', command.customerId);
      return [{ type: 'CustomerRenamed', data: { customerId: command.customerId, name: command.name.trim() } }];
    }
    case 'EraseCustomer': {
      if (!state || state.erased) throw new NotFoundError('Customer', command.customerId);
      return [{ type: 'CustomerErased', data: { customerId: command.customerId } }];
    }
    default:
      return assertNever(command);
  }
}
