import { emailFor } from '../../auth/masking.ts';
import { createCustomer, eraseCustomer, renameCustomer } from '../../write/customer/handle.ts';
import { builder } from '../builder.ts';
import { afterCommand, MutationConsistencyInput } from '../consistency.ts';
import { commandContext } from '../context.ts';
import { COMMAND_ERRORS } from './errors.ts';
import { resultUnion } from './mutationResult.ts';

builder.prismaObject('Customer', {
  description: 'A customer as the write model holds it (returned by commands).',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { nullable: true, description: 'Null once erased.' }),
    email: t.string({
      nullable: true,
      description: 'Whole for admins and the customer itself, masked (j***@example.com) for support.',
      select: { email: true },
      resolve: (c, _args, ctx) => emailFor(ctx.subject, c.id, c.email),
    }),
    version: t.exposeInt('version'),
    erased: t.boolean({ select: { erasedAt: true }, resolve: (c) => c.erasedAt !== null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface CustomerPayloadShape {
  customerId: string;
  version: number;
  position: string;
}

const CustomerPayload = builder.objectRef<CustomerPayloadShape>('CustomerPayload').implement({
  description: 'A customer command succeeded.',
  fields: (t) => ({
    position: t.exposeString('position', { description: 'Pass as consistency.atLeast to read your own write.' }),
    version: t.exposeInt('version', { description: 'The customer version after the command.' }),
    customer: t.prismaField({
      type: 'Customer',
      resolve: (query, p, _args, ctx) =>
        ctx.app.prisma.customer.findUniqueOrThrow({ ...query, where: { id: p.customerId } }),
    }),
  }),
});

const CreateCustomerInput = builder.inputType('CreateCustomerInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1 to 200 characters.' }),
    email: t.string({ required: true }),
  }),
});
const RenameCustomerInput = builder.inputType('RenameCustomerInput', {
  fields: (t) => ({ customerId: t.id({ required: true }), name: t.string({ required: true }) }),
});
const EraseCustomerInput = builder.inputType('EraseCustomerInput', {
  fields: (t) => ({ customerId: t.id({ required: true }) }),
});

builder.mutationFields((t) => ({
  createCustomer: t.field({
    description: 'Admin or support. Emits CustomerCreated.',
    type: CustomerPayload,
    errors: resultUnion('createCustomer', COMMAND_ERRORS),
    args: {
      input: t.arg({ type: CreateCustomerInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(ctx, consistency, await createCustomer(commandContext(ctx), input)),
  }),
  renameCustomer: t.field({
    description: 'Admin, support, or the customer itself. Emits CustomerRenamed; every read model follows.',
    type: CustomerPayload,
    errors: resultUnion('renameCustomer', COMMAND_ERRORS),
    args: {
      input: t.arg({ type: RenameCustomerInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await renameCustomer(commandContext(ctx), { customerId: String(input.customerId), name: input.name }),
      ),
  }),
  eraseCustomer: t.field({
    description: 'Admin only (GDPR). Removes name and email; orders stay with an anonymized customer.',
    type: CustomerPayload,
    errors: resultUnion('eraseCustomer', COMMAND_ERRORS),
    args: {
      input: t.arg({ type: EraseCustomerInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await eraseCustomer(commandContext(ctx), { customerId: String(input.customerId) }),
      ),
  }),
}));
