/**
 * `make schema`: writes schema.json, oskit's Pulumi package schema, from its one description in
 * provider/schema.ts. A test fails while the checked-in file differs from what this writes.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { schemaText } from "../provider/schema";
import { oskitRoot } from "../sdk/version";

const path = join(oskitRoot(), "schema.json");
writeFileSync(path, schemaText());
process.stdout.write(`wrote ${path}\n`);
