/**
 * LinuxKit's manifest schema, transcribed into tests/fixtures/linuxkit-schema.json, and a checker
 * for the subset of JSON Schema it uses (type, properties, additionalProperties, items, anyOf,
 * required): what LinuxKit would accept or refuse, without LinuxKit.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "./paths";

export interface SchemaNode {
  readonly type?: "object" | "array" | "string" | "integer" | "boolean";
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly required?: readonly string[];
}

export const LINUXKIT_SCHEMA = JSON.parse(
  readFileSync(join(FIXTURES, "linuxkit-schema.json"), "utf8"),
) as SchemaNode;

/** Every property path of the schema: `services[].capabilities.add` is `["services", "[]", "capabilities.add"]`. */
export function schemaKeyPaths(
  node: SchemaNode = LINUXKIT_SCHEMA,
  prefix: readonly string[] = [],
): string[][] {
  const out: string[][] = [];
  if (node.items) out.push(...schemaKeyPaths(node.items, [...prefix, "[]"]));
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    out.push([...prefix, key], ...schemaKeyPaths(child, [...prefix, key]));
  }
  return out;
}

/** Where a value breaks the schema, one line each (empty when LinuxKit would accept it). */
export function linuxkitSchemaErrors(
  value: unknown,
  node: SchemaNode = LINUXKIT_SCHEMA,
  path = "$",
): string[] {
  if (node.anyOf) {
    return node.anyOf.some((alt) => linuxkitSchemaErrors(value, alt, path).length === 0)
      ? []
      : [`${path}: matches none of the alternatives`];
  }
  switch (node.type) {
    case "string":
      return typeof value === "string"
        ? []
        : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case "integer":
      return Number.isInteger(value)
        ? []
        : [`${path}: expected an integer, got ${JSON.stringify(value)}`];
    case "boolean":
      return typeof value === "boolean"
        ? []
        : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case "array":
      if (!Array.isArray(value)) return [`${path}: expected an array`];
      return value.flatMap((item, i) =>
        node.items ? linuxkitSchemaErrors(item, node.items, `${path}[${i}]`) : [],
      );
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${path}: expected an object`];
      const errors: string[] = [];
      for (const key of node.required ?? []) {
        if (!(key in value)) errors.push(`${path}.${key}: required`);
      }
      for (const [key, v] of Object.entries(value)) {
        const child = node.properties?.[key];
        if (child) errors.push(...linuxkitSchemaErrors(v, child, `${path}.${key}`));
        else if (typeof node.additionalProperties === "object") {
          errors.push(...linuxkitSchemaErrors(v, node.additionalProperties, `${path}.${key}`));
        } else if (node.additionalProperties === false) errors.push(`${path}.${key}: not allowed`);
      }
      return errors;
    }
    default:
      return [];
  }
}
