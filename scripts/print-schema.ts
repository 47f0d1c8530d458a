// Prints the GraphQL schema the code builds to schema.graphql (sorted), or with
// --check fails when the committed file differs.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { printedSchema } from '../src/graphql/schema.ts';

const file = join(import.meta.dirname, '../schema.graphql');
const printed = printedSchema();
if (process.argv.includes('--check')) {
  const committed = await readFile(file, 'utf8').catch(() => '');
  if (committed !== printed) {
    console.error('schema.graphql is out of date: run npm run schema:print and commit it');
    process.exit(1);
  }
  console.log('schema.graphql matches the code');
} else {
  await writeFile(file, printed);
  console.log(`wrote ${file}`);
}
