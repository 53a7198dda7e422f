import { strict as assert } from "node:assert";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../../../sdk/build/build";
import { AssembleError } from "../../../sdk/errors";
import {
  checksum,
  encodeHeader,
  encodePax,
  TarType,
  type TarHeader,
} from "../../../sdk/formats/tar/header";
import { readTar } from "../../../sdk/formats/tar/reader";
import { validateManifest } from "../../../sdk/manifest/validate";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { storeImage } from "../../support/images";

// Layers are other people's bytes. Each case below is an attack (or an oddity) a crafted layer
// tarball can carry; every one is refused with an AssembleError naming the image and the entry, or
// handled safely — and nothing ever appears outside the build's output directory.

const base: TarHeader = {
  path: "",
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 0,
  type: TarType.File,
  linkname: "",
  uname: "",
  gname: "",
  devmajor: 0,
  devminor: 0,
};

/** A raw entry: a header block (anything goes, the codec's checks are bypassed) and its data. */
function raw(
  h: Partial<TarHeader>,
  data: Buffer = Buffer.alloc(0),
  mangle?: (block: Buffer) => void,
): Buffer {
  const header = { ...base, ...h, size: h.size ?? data.length };
  const block = encodeHeader({ ...header, path: header.path.length > 100 ? "x" : header.path });
  if (header.path.length > 100) block.write(header.path.slice(0, 100), 0, 100, "utf8");
  mangle?.(block);
  return Buffer.concat([block, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A pax extended header whose records apply to the next entry. */
function pax(records: Record<string, string>): Buffer {
  return raw({ path: "PaxHeaders/x", type: TarType.PaxHeader }, encodePax(records));
}

const end = Buffer.alloc(1024);
const file = (path: string, text = "x") => raw({ path }, Buffer.from(text));
const tar = (...parts: Buffer[]) => Buffer.concat([...parts, end]);

interface Case {
  readonly name: string;
  readonly layers: readonly Buffer[];
  /** undefined: handled safely; a RegExp: refused with an AssembleError matching it. */
  readonly refused?: RegExp;
  /** For handled cases: what the container's tree must (or must not) hold. */
  readonly check?: (entries: Map<string, { type: string; linkname: string; mode: number }>) => void;
}

const ROOTFS = "containers/services/victim/lower";

const CASES: readonly Case[] = [
  {
    name: "path traversal with ..",
    layers: [tar(file("../escaped"))],
    refused: /entry "\.\.\/escaped".*climbs out of the root/,
  },
  {
    name: "nested traversal",
    layers: [tar(file("a/b/../../../escaped"))],
    refused: /climbs out of the root/,
  },
  {
    name: "absolute traversal",
    layers: [tar(file("/../../escaped"))],
    refused: /climbs out of the root/,
  },
  {
    name: "absolute names are made relative",
    layers: [tar(file("/etc/passwd", "root::0:0::/:/bin/sh\n"))],
    check: (e) => assert.equal(e.get(`${ROOTFS}/etc/passwd`)?.type, TarType.File),
  },
  {
    name: "write through a symlink to /",
    layers: [
      tar(raw({ path: "evil", type: TarType.Symlink, linkname: "/" }), file("evil/escaped")),
    ],
    refused: /cannot add below \/evil: it is a symlink/,
  },
  {
    name: "write through a symlink to ..",
    layers: [tar(raw({ path: "up", type: TarType.Symlink, linkname: ".." }), file("up/escaped"))],
    refused: /it is a symlink, not a directory/,
  },
  {
    name: "a symlinked parent directory from a lower layer",
    layers: [
      tar(raw({ path: "data/", type: TarType.Directory, mode: 0o755 })),
      tar(raw({ path: "data", type: TarType.Symlink, linkname: "/tmp" })),
      tar(file("data/escaped")),
    ],
    refused: /layer 3\/3: entry "data\/escaped".*symlink/,
  },
  {
    name: "hard link climbing out",
    layers: [tar(raw({ path: "h", type: TarType.HardLink, linkname: "../../etc/shadow" }))],
    refused: /climbs out of the root/,
  },
  {
    name: "hard link to a host path",
    layers: [tar(raw({ path: "h", type: TarType.HardLink, linkname: "/etc/shadow" }))],
    refused: /hard link \/h points at \/etc\/shadow, which is not a file in the tree/,
  },
  {
    name: "a hard link to itself (a loop for whoever follows it)",
    layers: [tar(file("a"), raw({ path: "a", type: TarType.HardLink, linkname: "a" }))],
    refused: /entry "a": hard link \/a points at itself/,
  },
  {
    name: "device nodes stay data",
    layers: [
      tar(
        raw({ path: "dev/", type: TarType.Directory, mode: 0o755 }),
        raw({ path: "dev/kmsg", type: TarType.CharDevice, mode: 0o666, devmajor: 1, devminor: 11 }),
        raw({ path: "dev/sda", type: TarType.BlockDevice, mode: 0o660, devmajor: 8 }),
      ),
    ],
    check: (e) => {
      assert.equal(e.get(`${ROOTFS}/dev/sda`)?.type, TarType.BlockDevice);
      assert.equal(
        e.get(`${ROOTFS}/dev/kmsg`)?.type,
        TarType.CharDevice,
        "device nodes are tar entries, never created on the build host",
      );
    },
  },
  {
    name: "a size far past the data",
    layers: [tar(raw({ path: "big", size: 2 * 1024 ** 3 }))],
    refused: /truncated/,
  },
  {
    name: "a negative base-256 size",
    layers: [
      tar(
        raw({ path: "neg" }, Buffer.alloc(0), (block) => {
          block.fill(0xff, 124, 136);
          block.write(`${checksum(block).toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
        }),
      ),
    ],
    refused: /negative base-256 size/,
  },
  {
    name: "duplicate entries: the last wins",
    layers: [tar(file("etc/motd", "first"), file("etc/motd", "second"))],
    check: (e) => assert.equal(e.get(`${ROOTFS}/etc/motd`)?.type, TarType.File),
  },
  {
    name: "a bad header checksum",
    layers: [tar(raw({ path: "x" }, Buffer.from("x"), (block) => (block[0] = 0x79)))],
    refused: /checksum .* does not match/,
  },
  {
    name: "a pax path that climbs out",
    layers: [tar(pax({ path: "../../escaped" }), file("innocent"))],
    refused: /entry "\.\.\/\.\.\/escaped".*climbs out/,
  },
  {
    name: "a pax linkpath that climbs out",
    layers: [
      tar(
        pax({ linkpath: "../../../etc/shadow" }),
        raw({ path: "h", type: TarType.HardLink, linkname: "target" }),
      ),
    ],
    refused: /climbs out of the root/,
  },
  {
    name: "a GNU long name that climbs out",
    layers: [
      tar(
        raw(
          { path: "././@LongLink", type: TarType.GnuLongName },
          Buffer.from(`${"../".repeat(40)}escaped\0`),
        ),
        file("short"),
      ),
    ],
    refused: /climbs out of the root/,
  },
  {
    name: "a whiteout that climbs out",
    layers: [tar(file("keep")), tar(file("a/../../.wh.keep"))],
    refused: /climbs out of the root/,
  },
  {
    name: "an opaque whiteout empties only lower layers",
    layers: [
      tar(file("dir/old")),
      tar(
        raw({ path: "dir/", type: TarType.Directory, mode: 0o755 }),
        file("dir/new"),
        file("dir/.wh..wh..opq"),
      ),
    ],
    check: (e) => {
      assert.equal(e.get(`${ROOTFS}/dir/old`), undefined);
      assert.equal(e.get(`${ROOTFS}/dir/new`)?.type, TarType.File);
    },
  },
  {
    name: "setuid bits stay data",
    layers: [
      tar(
        raw({ path: "bin/", type: TarType.Directory, mode: 0o755 }),
        raw({ path: "bin/su", mode: 0o4755 }, Buffer.from("#!")),
      ),
    ],
    check: (e) => assert.equal(e.get(`${ROOTFS}/bin/su`)?.mode, 0o4755),
  },
];

/** Every path below a directory, with its kind. */
function snapshot(dir: string, skip: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (skip.includes(full)) continue;
      const info = lstatSync(full);
      out.push(`${full} ${info.isDirectory() ? "d" : info.isSymbolicLink() ? "l" : "f"}`);
      if (info.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out.sort();
}

describe("hostile layers", () => {
  let sandbox: string;
  before(() => {
    sandbox = mkdtempSync(join(tmpdir(), "oskit-hostile-"));
    mkdirSync(join(sandbox, "neighbours", "etc"), { recursive: true });
    writeFileSync(join(sandbox, "neighbours", "etc", "passwd"), "do not touch\n");
  });
  after(() => rmSync(sandbox, { recursive: true, force: true }));

  it("has at least 15 cases", () => assert.ok(CASES.length >= 15, String(CASES.length)));

  for (const testCase of CASES) {
    it(`${testCase.name}: ${testCase.refused === undefined ? "handled safely" : "refused"}, nothing outside the build directory`, async () => {
      const work = join(sandbox, testCase.name.replace(/\W+/g, "-"));
      const store = await ContentStore.open(join(work, "store"));
      await storeImage(store, {
        ref: "hostile/image:1",
        layers: testCase.layers,
        entrypoint: ["/bin/true"],
      });
      const out = join(work, "out");
      const before = snapshot(sandbox, [join(work, "store"), out]);
      const manifest = validateManifest({
        services: [{ name: "victim", image: "hostile/image:1" }],
      });
      const run = build(manifest, {
        store,
        formats: ["tar"],
        outDir: out,
        name: "system",
        platform: { os: "linux", architecture: "amd64" },
        baseDir: work,
      });
      if (testCase.refused !== undefined) {
        await assert.rejects(
          run,
          (e: unknown) =>
            e instanceof AssembleError &&
            /hostile\/image:1 layer \d\/\d/.test(e.message) &&
            testCase.refused!.test(e.message),
        );
      } else {
        await run;
        const entries = new Map<string, { type: string; linkname: string; mode: number }>();
        for await (const entry of readTar([readFileSync(join(out, "system.tar"))])) {
          entries.set(entry.header.path.replace(/\/$/, ""), {
            type: entry.header.type,
            linkname: entry.header.linkname,
            mode: entry.header.mode,
          });
          assert.ok(!entry.header.path.split("/").includes(".."), entry.header.path);
        }
        testCase.check?.(entries);
      }
      assert.deepEqual(
        snapshot(sandbox, [join(work, "store"), out]),
        before,
        "something appeared outside the build directory",
      );
    });
  }
});
