import { strict as assert } from "node:assert";
import type { z } from "zod";
import { CONTAINER_KEYS, MOUNT_KEYS } from "../../../sdk/manifest/linuxkit/keys";
import { manifestSchema } from "../../../sdk/manifest/schema";
import { fixtureData, keyPaths, linuxkitFixtures } from "../../support/fixtures";
import { schemaKeyPaths } from "../../support/linuxkit-schema";

/** The object shape reached by following a key path through the zod schema, or undefined. */
function zodChild(schema: z.ZodType, key: string): z.ZodType | undefined {
  let node = schema as unknown as { _zod: { def: Record<string, unknown> } };
  for (;;) {
    const def = node._zod.def;
    if (def.type === "optional" || def.type === "readonly") node = def.innerType as typeof node;
    else if (def.type === "pipe") node = def.in as typeof node;
    else break;
  }
  const def = node._zod.def;
  if (key === "[]") return def.type === "array" ? (def.element as z.ZodType) : undefined;
  if (def.type === "record") return def.valueType as z.ZodType;
  if (def.type === "object") return (def.shape as Record<string, z.ZodType>)[key];
  if (def.type === "union") {
    for (const option of def.options as z.ZodType[]) {
      const child = zodChild(option, key);
      if (child) return child;
    }
  }
  return undefined;
}

/** LinuxKit key path → oskit key path (the renames of keys.ts). */
function toOskit(path: readonly string[]): string[] {
  const rename = { ...Object.fromEntries(Object.entries(CONTAINER_KEYS).map(([k, v]) => [v, k])) };
  const mount = Object.fromEntries(Object.entries(MOUNT_KEYS).map(([k, v]) => [v, k]));
  return path.map((key, i) => {
    if (i === 2 && ["onboot", "onshutdown", "services"].includes(path[0]!))
      return rename[key] ?? key;
    if (path[i - 2] === "mounts") return mount[key] ?? key;
    return key;
  });
}

describe("the manifest schema", () => {
  const linuxkitPaths = schemaKeyPaths().filter((p) => p[0] !== "trust");

  it("covers every key of LinuxKit's manifest schema", () => {
    assert.ok(linuxkitPaths.length > 150, `only ${linuxkitPaths.length} LinuxKit keys were read`);
    const missing = linuxkitPaths.filter((path) => {
      let node: z.ZodType | undefined = manifestSchema;
      for (const key of toOskit(path)) node = node && zodChild(node, key);
      return node === undefined;
    });
    assert.deepEqual(
      missing.map((p) => p.join(".")),
      [],
    );
  });

  it("has no field LinuxKit's schema lacks (so nothing is lost on export)", () => {
    const known = new Set(linuxkitPaths.map((p) => JSON.stringify(toOskit(p))));
    const extra: string[] = [];
    const walk = (schema: z.ZodType, path: string[]) => {
      const items = zodChild(schema, "[]");
      if (items) walk(items, [...path, "[]"]);
      let node = schema as unknown as { _zod: { def: Record<string, unknown> } };
      while (["optional", "pipe"].includes(node._zod.def.type as string)) {
        node = (node._zod.def.innerType ?? node._zod.def.in) as typeof node;
      }
      const shape =
        node._zod.def.type === "object" ? (node._zod.def.shape as Record<string, z.ZodType>) : {};
      for (const [key, child] of Object.entries(shape)) {
        // Input placeholders and typed rlimits are oskit's forms; export writes them as LinuxKit's.
        if (key === "$input" || path.at(-2) === "rlimits") continue;
        if (!known.has(JSON.stringify([...path, key]))) extra.push([...path, key].join("."));
        walk(child, [...path, key]);
      }
    };
    walk(manifestSchema, []);
    assert.deepEqual(extra, []);
  });

  it("is exercised key by key by the fixture corpus (container fields in any container section)", () => {
    const section = (path: readonly string[]) =>
      JSON.stringify(
        ["onboot", "onshutdown", "services"].includes(path[0]!)
          ? ["container", ...path.slice(1)]
          : path,
      );
    const used = new Set<string>();
    for (const fixture of linuxkitFixtures()) {
      for (const p of keyPaths(fixtureData(fixture))) used.add(section(JSON.parse(p) as string[]));
    }
    const unused = [...new Set(linuxkitPaths.map(section))].filter((p) => !used.has(p));
    assert.deepEqual(unused, []);
  });
});
