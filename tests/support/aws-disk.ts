/** A tiny oskit `aws` disk for AMI tests: a UKI-shaped PE of 1 MiB, so a few blocks of data. */
import { join } from "node:path";
import { FileData } from "../../sdk/assemble/file-data";
import { FileTree } from "../../sdk/assemble/tree";
import { WRITERS } from "../../sdk/formats/writers";
import { testPe } from "./pe";

/** The disk, written into `dir`, as an ImageBuild artifact of format `aws` describes it. */
export async function tinyAwsDisk(dir: string) {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  const text = Buffer.alloc(1 << 20);
  for (let i = 0; i < text.length; i += 4096) text.writeUInt32LE(i, i);
  tree.set(
    "/boot/kernel",
    file(testPe({ majorImageVersion: 1, sections: [{ name: ".text", data: text }] })),
  );
  tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  const [disk] = await WRITERS.aws.write(tree, {
    dir,
    name: "tiny",
    mtime: 1492533000,
    efiStub: testPe(),
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
  });
  const path = join(dir, disk!.name);
  return {
    format: "aws",
    path,
    sha256: disk!.sha256,
    size: disk!.size,
    files: [{ name: disk!.name, path, sha256: disk!.sha256, size: disk!.size }],
  };
}
