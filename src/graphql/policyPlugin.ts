// Puts every root field (query, mutation, subscription) under the authorization
// matrix of auth/policy.ts: each gets the scope-auth scope `operation: "<Root>.<field>"`,
// checked before its resolver (or, for subscriptions, before it subscribes). A field
// without a rule in the table is denied to everyone.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);

export class PolicyPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (!ROOTS.has(fieldConfig.kind)) return fieldConfig;
    return {
      ...fieldConfig,
      pothosOptions: {
        ...fieldConfig.pothosOptions,
        authScopes: { operation: `${fieldConfig.kind}.${fieldConfig.name}` },
      },
    } as PothosOutputFieldConfig<Types>;
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      parallaxPolicy: PolicyPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin('parallaxPolicy', PolicyPlugin);

export default 'parallaxPolicy' as const;
