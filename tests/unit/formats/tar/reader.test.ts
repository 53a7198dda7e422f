import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FormatError } from "../../../../sdk/errors";
import { readTar } from "../../../../sdk/formats/tar/reader";

/** An archive made by GNU tar in the given format, from a small tree (with a long name, but for ustar). */
function gnuTar(format: "gnu" | "pax" | "ustar"): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "oskit-tar-"));
  try {
    mkdirSync(join(dir, "src"));
    if (format !== "ustar") {
      const long = `${"x".repeat(90)}/${"y".repeat(90)}`;
      mkdirSync(join(dir, "src", long), { recursive: true });
      writeFileSync(join(dir, "src", long, `${"z".repeat(120)}.txt`), "deep\n");
    }
    writeFileSync(join(dir, "src", "small"), Buffer.alloc(1000, 7));
    symlinkSync("small", join(dir, "src", "link"));
    const out = join(dir, "a.tar");
    const tar = spawnSync(
      "tar",
      [`--format=${format}`, "--sort=name", "-cf", out, "-C", join(dir, "src"), "."],
      { encoding: "utf8" },
    );
    assert.equal(tar.status, 0, tar.stderr);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function list(data: Buffer, chunkSize: number) {
  const chunks = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  const out: [string, string, number][] = [];
  for await (const entry of readTar(chunks)) {
    const body = entry.header.path.endsWith("small") ? (await entry.readAll()).length : -1;
    out.push([entry.header.path, entry.header.type, body]);
  }
  return out;
}

describe("readTar", () => {
  for (const format of ["gnu", "pax"] as const) {
    it(`reads GNU tar's ${format} format, long names included, whatever the chunk sizes`, async () => {
      const data = gnuTar(format);
      const expected = await list(data, data.length);
      assert.ok(
        expected.some(([path]) => path.endsWith(`${"z".repeat(120)}.txt`)),
        JSON.stringify(expected),
      );
      assert.deepEqual(
        expected.find(([path]) => path === "./small"),
        ["./small", "0", 1000],
      );
      assert.deepEqual(expected.find(([path]) => path === "./link")?.[1], "2");
      for (const size of [1, 7, 511, 513, 4096])
        assert.deepEqual(await list(data, size), expected, `chunks of ${size}`);
    });
  }

  it("skips unread data, and refuses truncated archives", async () => {
    const data = gnuTar("ustar");
    const paths = [];
    for await (const entry of readTar([data])) paths.push(entry.header.path);
    assert.ok(paths.includes("./small") && paths.includes("./link"));
    await assert.rejects(async () => {
      for await (const entry of readTar([data.subarray(0, 1024 + 100)])) await entry.readAll();
    }, FormatError);
  });
});
