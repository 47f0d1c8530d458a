import { createProduct } from '../../write/product/handle.ts';
import { builder } from '../builder.ts';
import { afterCommand, MutationConsistencyInput } from '../consistency.ts';
import { commandContext } from '../context.ts';
import { COMMAND_ERRORS } from './errors.ts';
import { resultUnion } from './mutationResult.ts';

builder.prismaObject('Product', {
  description: 'A catalogue product. Products never change once created, so orders copy their facts.',
  fields: (t) => ({
    id: t.exposeID('id'),
    sku: t.exposeString('sku'),
    name: t.exposeString('name'),
    priceCents: t.exposeInt('priceCents', { description: 'Price in integer cents.' }),
  }),
});

interface ProductPayloadShape {
  productId: string;
  version: number;
  position: string;
}

const ProductPayload = builder.objectRef<ProductPayloadShape>('ProductPayload').implement({
  description: 'createProduct succeeded.',
  fields: (t) => ({
    position: t.exposeString('position'),
    version: t.exposeInt('version'),
    product: t.prismaField({
      type: 'Product',
      resolve: (query, p, _args, ctx) =>
        ctx.app.prisma.product.findUniqueOrThrow({ ...query, where: { id: p.productId } }),
    }),
  }),
});

const CreateProductInput = builder.inputType('CreateProductInput', {
  fields: (t) => ({
    sku: t.string({ required: true, description: 'Unique; letters, digits, ".", "_", "-", at most 64.' }),
    name: t.string({ required: true }),
    priceCents: t.int({ required: true }),
  }),
});

builder.mutationField('createProduct', (t) =>
  t.field({
    description: 'Admin only. Emits ProductCreated.',
    type: ProductPayload,
    errors: resultUnion('createProduct', COMMAND_ERRORS),
    args: {
      input: t.arg({ type: CreateProductInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(ctx, consistency, await createProduct(commandContext(ctx), input)),
  }),
);

builder.queryField('products', (t) =>
  t.prismaField({
    description: 'The catalogue, by SKU. Products are immutable reference data shared by both sides.',
    type: ['Product'],
    args: { first: t.arg.int({ defaultValue: 100 }) },
    resolve: (query, _root, { first }, ctx) =>
      ctx.app.prisma.product.findMany({
        ...query,
        orderBy: { sku: 'asc' },
        take: Math.min(Math.max(first ?? 100, 0), 500),
      }),
  }),
);
