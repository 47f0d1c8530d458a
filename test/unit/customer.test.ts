// decideCustomer, rule by rule, without a database: names, emails, and what an absent
// or erased customer refuses.
import { describe } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import type { CustomerEvent } from '../../src/events/customer.ts';
import type { CustomerCommand, CustomerState } from '../../src/write/customer/commands.ts';
import { decideCustomer } from '../../src/write/customer/decide.ts';
import { type DeciderCase, decides } from '../support/decider.ts';

type Case = DeciderCase<CustomerState | null, CustomerCommand, CustomerEvent>;

const decide = (command: CustomerCommand, state: CustomerState | null) => decideCustomer(command, state);

const CUSTOMER_ID = '00000000-0000-4000-8000-0000000000c1';
const ada: CustomerState = { id: CUSTOMER_ID, name: 'Ada', version: 2, erased: false };
const erased: CustomerState = { id: CUSTOMER_ID, name: null, version: 3, erased: true };

const create = (name: string, email: string): CustomerCommand => ({
  type: 'CreateCustomer',
  customerId: CUSTOMER_ID,
  name,
  email,
});
const rename = (name: string): CustomerCommand => ({ type: 'RenameCustomer', customerId: CUSTOMER_ID, name });
const erase: CustomerCommand = { type: 'EraseCustomer', customerId: CUSTOMER_ID };

const created = (name: string, email: string): CustomerEvent[] => [
  { type: 'CustomerCreated', data: { customerId: CUSTOMER_ID, name, email } },
];

const NAME_MESSAGE = 'input.name: must be 1 to 200 characters';
const EMAIL_MESSAGE = 'input.email: must be an email address';

/** An email of `length` characters that the pattern accepts: 64 + "@" + domain + "." + 63. */
function emailOf(length: number): string {
  return `${'l'.repeat(64)}@${'d'.repeat(length - 64 - 1 - 1 - 63)}.${'t'.repeat(63)}`;
}

describe('CreateCustomer', () => {
  decides(decide, [
    {
      it: 'creates the customer with the name trimmed and the email lowercased',
      given: null,
      when: create('  Ada Lovelace ', 'Ada@Example.COM'),
      thenEvents: created('Ada Lovelace', 'ada@example.com'),
    },
    {
      it: 'accepts a name of 200 characters, counted once trimmed',
      given: null,
      when: create(` ${'n'.repeat(200)} `, 'a@b.c'),
      thenEvents: created('n'.repeat(200), 'a@b.c'),
    },
    {
      it: 'accepts a one-character name',
      given: null,
      when: create('N', 'a@b.c'),
      thenEvents: created('N', 'a@b.c'),
    },
    ...['', '   ', 'n'.repeat(201)].map(
      (name): Case => ({
        it: `refuses the name ${JSON.stringify(name.length > 10 ? `${name.length} characters` : name)}`,
        given: null,
        when: create(name, 'ada@example.com'),
        thenThrows: { error: ValidationError, message: NAME_MESSAGE },
      }),
    ),
    {
      it: 'accepts an email of 320 characters, the most, with a 64-character local part',
      given: null,
      when: create('Ada', emailOf(320)),
      thenEvents: created('Ada', emailOf(320)),
    },
    ...[
      ['without an @', 'ada.example.com'],
      ['with two @', 'ada@lab@example.com'],
      ['with an empty local part', '@example.com'],
      ['with a 65-character local part', `${'l'.repeat(65)}@example.com`],
      ['with a space', 'ada lovelace@example.com'],
      ['without a dot in the domain', 'ada@example'],
      ['ending in a dot', 'ada@example.'],
      ['with a 64-character last label', `ada@example.${'t'.repeat(64)}`],
      ['of 321 characters', emailOf(321)],
      ['that is empty', ''],
    ].map(
      ([what, email]): Case => ({
        it: `refuses an email ${what}`,
        given: null,
        when: create('Ada', email!),
        thenThrows: { error: ValidationError, message: EMAIL_MESSAGE },
      }),
    ),
    {
      it: 'reports a bad name and a bad email at once',
      given: null,
      when: create(' ', 'nope'),
      thenThrows: {
        error: ValidationError,
        message: `${NAME_MESSAGE}; ${EMAIL_MESSAGE}`,
        fields: {
          issues: [
            { path: ['input', 'name'], message: 'must be 1 to 200 characters' },
            { path: ['input', 'email'], message: 'must be an email address' },
          ],
        },
      },
    },
  ]);
});

describe('RenameCustomer', () => {
  decides(decide, [
    {
      it: 'renames the customer, the name trimmed',
      given: ada,
      when: rename(' Ada King '),
      thenEvents: [{ type: 'CustomerRenamed', data: { customerId: CUSTOMER_ID, name: 'Ada King' } }],
    },
    ...['', ' ', 'n'.repeat(201)].map(
      (name): Case => ({
        it: `refuses the name ${JSON.stringify(name.length > 10 ? `${name.length} characters` : name)}`,
        given: ada,
        when: rename(name),
        thenThrows: { error: ValidationError, message: NAME_MESSAGE },
      }),
    ),
    {
      it: 'checks the name before looking for the customer',
      given: null,
      when: rename(''),
      thenThrows: { error: ValidationError, message: NAME_MESSAGE },
    },
    {
      it: 'refuses a customer that does not exist',
      given: null,
      when: rename('Ada King'),
      thenThrows: {
        error: NotFoundError,
        message: `Customer ${CUSTOMER_ID} not found`,
        fields: { entity: 'Customer', id: CUSTOMER_ID },
      },
    },
    {
      it: 'refuses an erased customer as not found',
      given: erased,
      when: rename('Ada King'),
      thenThrows: { error: NotFoundError, message: `Customer ${CUSTOMER_ID} not found` },
    },
  ]);
});

describe('EraseCustomer', () => {
  decides(decide, [
    {
      it: 'erases the customer',
      given: ada,
      when: erase,
      thenEvents: [{ type: 'CustomerErased', data: { customerId: CUSTOMER_ID } }],
    },
    {
      it: 'refuses a customer that does not exist',
      given: null,
      when: erase,
      thenThrows: { error: NotFoundError, message: `Customer ${CUSTOMER_ID} not found` },
    },
    {
      it: 'refuses a customer erased before',
      given: erased,
      when: erase,
      thenThrows: { error: NotFoundError, message: `Customer ${CUSTOMER_ID} not found` },
    },
  ]);
});
