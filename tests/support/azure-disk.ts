/** A tiny oskit `vhd` disk for Azure upload tests: a UKI-shaped PE with 6 MiB of data and holes. */
import { join } from "node:path";
import { FileData } from "../../sdk/assemble/file-data";
import { FileTree } from "../../sdk/assemble/tree";
import { WRITERS } from "../../sdk/formats/writers";
import { testPe } from "./pe";

/** The VHD, written into `dir`, as an ImageBuild artifact of format `vhd` describes it. */
export async function tinyVhd(dir: string) {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  // Pseudo-random text longer than one Put Page (4 MiB), with an all-zero hole of 16 pages at 5 MiB.
  const text = Buffer.alloc(6 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < text.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    text.writeUInt32LE(x >>> 0, i);
  }
  text.fill(0, 5 << 20, (5 << 20) + 8192);
  tree.set(
    "/boot/kernel",
    file(testPe({ majorImageVersion: 1, sections: [{ name: ".text", data: text }] })),
  );
  tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  const [disk] = await WRITERS.vhd.write(tree, {
    dir,
    name: "tiny",
    mtime: 1492533000,
    efiStub: testPe(),
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
  });
  return { path: join(dir, disk!.name), ...disk! };
}
