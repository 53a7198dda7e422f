/** A tiny oskit `gce` tarball for GCE image tests: a UKI-shaped PE of 1 MiB on a 1 GiB disk. */
import { join } from "node:path";
import { FileData } from "../../sdk/assemble/file-data";
import { FileTree } from "../../sdk/assemble/tree";
import { WRITERS } from "../../sdk/formats/writers";
import { testPe } from "./pe";

/** The tarball, written into `dir`, as an ImageBuild artifact of format `gce` describes it. */
export async function tinyGceTarball(dir: string, options: { seed?: number; name?: string } = {}) {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  // Pseudo-random text so the tarball does not compress to nothing (a few chunks to upload).
  const text = Buffer.alloc(1 << 20);
  let x = 0x9e3779b9 ^ (options.seed ?? 0);
  for (let i = 0; i < text.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    text.writeUInt32LE(x >>> 0, i);
  }
  tree.set(
    "/boot/kernel",
    file(testPe({ majorImageVersion: 1, sections: [{ name: ".text", data: text }] })),
  );
  tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  const [out] = await WRITERS.gce.write(tree, {
    dir,
    name: options.name ?? "tiny",
    mtime: 1492533000,
    efiStub: testPe(),
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
  });
  const path = join(dir, out!.name);
  return {
    format: "gce" as const,
    path,
    sha256: out!.sha256,
    size: out!.size,
    files: [{ name: out!.name, path, sha256: out!.sha256, size: out!.size }],
  };
}
