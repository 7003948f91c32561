import { writeFileSync } from 'node:fs';
import { printSortedSchema } from '../schema/index.ts';

/** `npm run schema:print`: writes the sorted SDL to schema.graphql, committed for review. */
const file = new URL('../../schema.graphql', import.meta.url);
writeFileSync(file, printSortedSchema());
process.stdout.write(`wrote ${file.pathname}\n`);
