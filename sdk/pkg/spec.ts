/**
 * `build.yml`: what a component package is made of. Sources are Debian packages, local files and
 * directories, and build steps (host commands run in a scratch copy of the tree); the result is
 * one deterministic layer per architecture.
 *
 * ```yaml
 * image: oskit/httpd                 # repository of the image
 * tag: "{hash}"                      # tag template; {hash} is the content hash of the package directory
 * arches: [amd64]
 * debian: [busybox-static]           # or { name, include: [globs], depends: true }
 * contents:
 *   - { from: rootfs, to: / }        # local files and directories
 * steps:
 *   - [sh, build.sh]                 # run with ROOT (the tree) and PKG (this directory) set
 * pack:
 *   - { tar: /kernel.tar, from: [/lib/modules] }   # subtrees written as a tar file in the image
 * keep: [/kernel, /kernel.tar]       # what stays in the image (globs); everything when absent
 * config: { capabilities: [CAP_NET_BIND_SERVICE], net: host }   # the org.mobyproject.config label
 * entrypoint: [/bin/busybox, httpd]
 * cmd: [-f]
 * env: [PATH=/bin]
 * workdir: /
 * ```
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { ValidationError, type Problem } from "../errors";
import { issuesToProblems, recordingErrorMap, type KnownKeys } from "../manifest/issues";
import { importLabelConfig, type ContainerConfig } from "../manifest/linuxkit/label";
import { FileMode } from "../manifest/mode";
import { ImageRef } from "../manifest/reference";

export const ARCHES = ["amd64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** Debian's name for an architecture is the same as OCI's for these two. */
const absolute = z.string().regex(/^\/[^\0]*$/, {
  error: (i) => `expected an absolute path, got ${JSON.stringify(i.input)}`,
});
const glob = absolute;

const debianPackageSchema = z.union(
  [
    z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, {
      error: (i) => `invalid Debian package name ${JSON.stringify(i.input)}`,
    }),
    z.strictObject({
      /** Package name. */
      name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
      /** Keep only these paths of the package (globs; `**` crosses directories). */
      include: z.array(glob).optional(),
      /** Also take the packages it depends on directly (first alternative each), e.g. a kernel metapackage's image. */
      depends: z.boolean().optional(),
    }),
  ],
  {
    error: (i) =>
      `expected a package name or { name, include, depends }, got ${JSON.stringify(i.input)}`,
  },
);

export const pkgSpecSchema = z.strictObject({
  image: z.string().check((ctx) => {
    const ref = ImageRef.tryParse(ctx.value);
    if (ref === undefined || ref.tag !== undefined || ref.digest !== undefined) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: `expected a repository without tag or digest, e.g. "oskit/httpd", got ${JSON.stringify(ctx.value)}`,
      });
    }
  }),
  tag: z
    .string()
    .regex(/^(?:[\w.-]|\{hash\})+$/, {
      error: (i) =>
        `expected a tag template such as "{hash}" or "v1-{hash}", got ${JSON.stringify(i.input)}`,
    })
    .optional(),
  arches: z.array(z.enum(ARCHES)).min(1).optional(),
  debian: z.array(debianPackageSchema).optional(),
  contents: z
    .array(
      z.strictObject({
        from: z.string().min(1),
        to: absolute,
        mode: z.union([z.number(), z.string()]).optional(),
      }),
    )
    .optional(),
  steps: z.array(z.array(z.string()).min(1, { error: "a step needs a command" })).optional(),
  pack: z.array(z.strictObject({ tar: absolute, from: z.array(absolute).min(1) })).optional(),
  keep: z.array(glob).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  entrypoint: z.array(z.string()).optional(),
  cmd: z.array(z.string()).optional(),
  env: z
    .array(
      z.string().regex(/^[^=\s]+=/, {
        error: (i) => `expected NAME=value, got ${JSON.stringify(i.input)}`,
      }),
    )
    .optional(),
  workdir: absolute.optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

export interface DebianPackageSpec {
  readonly name: string;
  readonly include?: readonly string[];
  readonly depends: boolean;
}

/** A package definition, validated, with defaults filled in. */
export interface PkgSpec {
  readonly dir: string;
  readonly image: string;
  readonly tag: string;
  readonly arches: readonly Arch[];
  readonly debian: readonly DebianPackageSpec[];
  readonly contents: readonly {
    readonly from: string;
    readonly to: string;
    readonly mode?: number;
  }[];
  readonly steps: readonly (readonly string[])[];
  readonly pack: readonly { readonly tar: string; readonly from: readonly string[] }[];
  readonly keep?: readonly string[];
  readonly config?: ContainerConfig;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workdir?: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Reads and validates `DIR/build.yml`; throws one ValidationError listing every problem. */
export function loadPkgSpec(dir: string): PkgSpec {
  const file = join(dir, "build.yml");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ValidationError([
      { path: file, message: "no build.yml: a package directory holds build.yml and its sources" },
    ]);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(
      doc.errors.map((e) => ({
        path: file,
        message: `YAML: ${(e.message.split("\n")[0] ?? "").trim()}`,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  const known: KnownKeys = new Map();
  const parsed = pkgSpecSchema.safeParse(raw, {
    error: recordingErrorMap(known),
    reportInput: true,
  });
  if (!parsed.success)
    throw new ValidationError(issuesToProblems(parsed.error.issues, raw, undefined, known), {
      source: file,
    });
  const spec = parsed.data;
  const problems: Problem[] = [];
  const contents = (spec.contents ?? []).map((c, i) => {
    if (c.mode === undefined) return { from: c.from, to: c.to };
    try {
      return { from: c.from, to: c.to, mode: FileMode.parse(c.mode).bits };
    } catch (error) {
      problems.push({ path: `contents[${i}].mode`, message: (error as Error).message });
      return { from: c.from, to: c.to };
    }
  });
  if (problems.length > 0) throw new ValidationError(problems, { source: file });
  return {
    dir,
    image: spec.image,
    tag: spec.tag ?? "{hash}",
    arches: spec.arches ?? ["amd64"],
    debian: (spec.debian ?? []).map((d) =>
      typeof d === "string"
        ? { name: d, depends: false }
        : { name: d.name, include: d.include, depends: d.depends ?? false },
    ),
    contents,
    steps: spec.steps ?? [],
    pack: spec.pack ?? [],
    keep: spec.keep,
    config: spec.config === undefined ? undefined : importLabelConfig(spec.config, file),
    entrypoint: spec.entrypoint,
    cmd: spec.cmd,
    env: spec.env,
    workdir: spec.workdir,
    labels: spec.labels ?? {},
  };
}
