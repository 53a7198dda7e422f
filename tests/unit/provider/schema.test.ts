import { strict as assert } from "node:assert";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import ts from "typescript";
import {
  packageSchema,
  RESOURCES,
  schemaText,
  TYPES,
  type JsDocSource,
  type PropertySpec,
} from "../../../provider/schema";
import { FORMATS } from "../../../sdk/formats/writers";
import { ROOT } from "../../support/paths";

const METASCHEMA = join(ROOT, "..", "shared", "data", "pulumi-package-metaschema.json");

/** A validator for Pulumi package schemas (the metaschema is JSON Schema draft 2020-12). */
function packageValidator(metaschema: unknown) {
  const ajv = new Ajv2020({
    allErrors: true,
    allowUnionTypes: true,
    formats: {
      regex: (text: string) => {
        try {
          new RegExp(text, "u");
          return true;
        } catch {
          return false;
        }
      },
      "uri-reference": /^\S*$/,
    },
  });
  return ajv.compile(metaschema as object);
}

interface Words {
  readonly comment: string;
  readonly default?: string;
}

/** A comment's lines joined by single spaces (spaces within a line are kept). */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

function wordsOf(node: ts.Node): Words | undefined {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const doc = docs[docs.length - 1];
  if (doc === undefined) return undefined;
  const tag = doc.tags?.find((t) => t.tagName.text === "default");
  return {
    comment: oneLine(ts.getTextOfJSDocComment(doc.comment) ?? ""),
    ...(tag !== undefined && { default: oneLine(ts.getTextOfJSDocComment(tag.comment) ?? "") }),
  };
}

/** The JSDoc of the named classes and interfaces of a source file, and of their members. */
function declarations(file: string) {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(ROOT, file), "utf8"),
    ts.ScriptTarget.Latest,
    true,
  );
  const found = new Map<string, { own?: Words; members: Map<string, Words | undefined> }>();
  source.forEachChild((node) => {
    if (!(ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) || !node.name) return;
    const members = new Map<string, Words | undefined>();
    for (const member of node.members as ts.NodeArray<ts.ClassElement | ts.TypeElement>)
      if (member.name && ts.isIdentifier(member.name))
        members.set(member.name.text, wordsOf(member));
    found.set(node.name.text, { own: wordsOf(node), members });
  });
  return found;
}

/** Each property's description against the JSDoc of the member of that name. */
function compareWords(
  what: string,
  description: string,
  properties: Readonly<Record<string, PropertySpec>>,
  jsdoc: JsDocSource,
) {
  const found = declarations(jsdoc.file);
  assert.equal(description, found.get(jsdoc.described)?.own?.comment, `${what}'s description`);
  for (const [name, spec] of Object.entries(properties)) {
    if (jsdoc.own?.includes(name) === true) continue;
    const holder = jsdoc.members.find((m) => found.get(m)?.members.has(name) === true);
    assert.ok(holder, `${what}.${name}: no member ${name} in ${jsdoc.members.join(" or ")}`);
    const words = found.get(holder)!.members.get(name);
    assert.deepEqual(
      { comment: spec.description, default: spec.default },
      { comment: words?.comment, default: words?.default },
      `${what}.${name} against ${holder}.${name}'s JSDoc in ${jsdoc.file}`,
    );
  }
}

describe("oskit's Pulumi package schema", () => {
  it("schema.json is what `make schema` writes now", () => {
    const checkedIn = readFileSync(join(ROOT, "schema.json"), "utf8");
    assert.ok(checkedIn === schemaText(), "schema.json is out of date: run `make schema`");
  });

  it("validates against Pulumi's package metaschema, which refuses a broken copy", function () {
    if (!existsSync(METASCHEMA)) {
      process.stdout.write(`      (no metaschema at ${METASCHEMA}: not validated)\n`);
      this.skip();
    }
    const validate = packageValidator(JSON.parse(readFileSync(METASCHEMA, "utf8")));
    const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8")) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.equal(validate(schema), true, JSON.stringify(validate.errors, null, 2));

    const broken = structuredClone(schema);
    broken.resources!["oskit:index:ImageBuild"]!.inputProperties = {
      formats: { type: "array" },
    };
    assert.equal(validate(broken), false, "an array without items is refused");
  });

  it("describes each property in the words of the classes' JSDoc", () => {
    for (const [token, spec] of Object.entries(RESOURCES))
      compareWords(token, spec.description, { ...spec.inputs, ...spec.outputs }, spec.jsdoc);
    for (const [token, spec] of Object.entries(TYPES.objects))
      compareWords(token, spec.description, spec.properties, spec.jsdoc);
  });

  it("lists the formats, required inputs and secrets, with each reference defined", () => {
    const schema = packageSchema() as {
      types: Record<string, { enum?: { value: string }[] }>;
      resources: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(
      schema.types["oskit:index:Format"]!.enum!.map((e) => e.value),
      [...FORMATS],
    );
    const build = schema.resources["oskit:index:ImageBuild"]!;
    assert.deepEqual(build.requiredInputs, ["os", "formats"]);
    const inputs = build.inputProperties as Record<string, Record<string, unknown>>;
    const outputs = build.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(inputs.os, {
      $ref: "pulumi.json#/Any",
      description: RESOURCES["oskit:index:ImageBuild"].inputs.os.description,
    });
    assert.equal(inputs.inputs!.secret, true);
    assert.equal(outputs.inputs!.secret, true);
    assert.match(String(inputs.name!.description), /Default: the resource's name\.$/);
    for (const name of build.required as string[]) assert.ok(outputs[name], name);

    const refs = JSON.stringify(schema).match(/"#\/types\/[^"]+(?=")/g) ?? [];
    for (const ref of new Set(refs)) assert.ok(schema.types[ref.slice('"#/types/'.length)], ref);
  });
});
