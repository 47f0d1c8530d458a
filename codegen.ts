import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the tests' GraphQL client, from the committed schema.graphql.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/**/*.ts', '!test/generated/**'],
  ignoreNoDocuments: true,
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { enumsAsTypes: true, useTypeImports: true, emitLegacyCommonJSImports: false },
    },
  },
};
export default config;
