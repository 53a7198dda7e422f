/**
 * The GCP fake driven with plain fetch: resumable uploads in chunks, interrupted and resumed,
 * checksums, the tarball checks GCE makes (with a `gce` artifact from oskit's writer), name and
 * label refusals, auth, and faults.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { FileData } from "../../../sdk/assemble/file-data";
import { FileTree } from "../../../sdk/assemble/tree";
import { writeSparseArchive } from "../../../sdk/formats/tar/gnu-sparse";
import { WRITERS } from "../../../sdk/formats/writers";
import {
  CHUNK_UNIT,
  GIB,
  crc32c,
  crc32cBase64,
  startGcpFake,
  type GcpFake,
  type GcpFakeOptions,
} from "../../support/gcp";
import { testPe } from "../../support/pe";
import { tarOf } from "../../support/tar";

const BUCKET = "oskit-images";

/** A JSON answer: a resource, a list, or Google's error body. */
type Body = Record<string, unknown> & {
  error?: { code: number; message: string; errors: { reason: string; message: string }[] };
  items?: { name: string }[];
};
const md5 = (data: Buffer) => createHash("md5").update(data).digest("base64");
const hashOf = (data: Buffer) => `crc32c=${crc32cBase64(crc32c(data))},md5=${md5(data)}`;

/** Bytes with a pattern, so a misplaced chunk shows. */
function pattern(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return out;
}

/** A small system's `gce` artifact, made by oskit's writer. */
async function gceArtifact(): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), "oskit-gcp-fake-test-"));
  try {
    const tree = new FileTree();
    const file = (data: Buffer, mode = 0o644) => ({
      kind: "file" as const,
      mode,
      data: FileData.of(data),
      uid: 0,
      gid: 0,
    });
    tree.set("/boot/kernel", file(testPe({ majorImageVersion: 1 })));
    tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
    tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
    await WRITERS.gce.write(tree, {
      dir,
      name: "s",
      mtime: 1492533000,
      efiStub: testPe(),
      manifestDigest: `sha256:${"0".repeat(64)}`,
      shared: new Map(),
    });
    return readFileSync(join(dir, "s.img.tar.gz"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An old-GNU sparse tar holding one file of `size` bytes (a few data bytes at its start). */
async function sparseTar(name: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await writeSparseArchive(
    {
      name,
      size,
      mtime: 1492533000,
      regions: [{ offset: 0, length: 512 }],
      read: (_offset, length) => Buffer.alloc(length, 7),
    },
    (c) => void chunks.push(c),
  );
  return Buffer.concat(chunks);
}

describe("the GCP fake", function () {
  this.timeout(20_000);
  let gcp: GcpFake;
  let auth: Record<string, string>;
  let artifact: Buffer;

  before(async () => (artifact = await gceArtifact()));
  const start = async (options: GcpFakeOptions = {}) => {
    gcp = await startGcpFake(options);
    auth = { authorization: `Bearer ${gcp.token}` };
  };
  beforeEach(() => start());
  afterEach(() => gcp.close());

  /** Opens a resumable session; its URI. */
  async function session(name: string, init: RequestInit = {}, query = ""): Promise<string> {
    const res = await fetch(
      `${gcp.storageEndpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=${encodeURIComponent(name)}${query}`,
      {
        method: "POST",
        ...init,
        headers: { ...auth, ...(init.headers as Record<string, string>) },
      },
    );
    assert.equal(res.status, 200, await res.clone().text());
    const location = res.headers.get("location");
    assert.ok(location?.startsWith(gcp.storageEndpoint), String(location));
    return location!;
  }

  /** PUTs bytes [first, first + data.length) of an object of `total` bytes (or `*`). */
  const put = (uri: string, data: Buffer, first: number, total: number | "*", headers = {}) =>
    fetch(uri, {
      method: "PUT",
      headers: {
        "content-range":
          data.length === 0
            ? `bytes */${total}`
            : `bytes ${first}-${first + data.length - 1}/${total}`,
        ...headers,
      },
      body: data,
    });

  const query = (uri: string, total: number | "*" = "*") =>
    fetch(uri, { method: "PUT", headers: { "content-range": `bytes */${total}` } });

  /** Uploads a whole object in one final chunk. */
  async function upload(name: string, data: Buffer): Promise<void> {
    const uri = await session(name);
    const res = await put(uri, data, 0, data.length, { "x-goog-hash": hashOf(data) });
    assert.equal(res.status, 200, await res.text());
  }

  const compute = (rest: string) =>
    `${gcp.computeEndpoint}/compute/v1/projects/${gcp.project}/global/${rest}`;
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const get = async (url: string) => {
    const res = await fetch(url, { headers: auth });
    return { status: res.status, body: (await res.json()) as Body };
  };
  interface Operation {
    name: string;
    status: string;
    error?: { errors: { code: string; message: string }[] };
  }
  const insert = async (body: Record<string, unknown>): Promise<Operation> => {
    const res = await post(compute("images"), body);
    const json = (await res.json()) as Operation;
    assert.equal(res.status, 200, JSON.stringify(json));
    return json;
  };
  const wait = async (op: Operation): Promise<Operation> => {
    const res = await fetch(compute(`operations/${op.name}/wait`), {
      method: "POST",
      headers: auth,
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Operation;
  };
  const source = (name: string) => `https://storage.googleapis.com/${BUCKET}/${name}`;

  describe("GCS resumable uploads", () => {
    it("compute CRC32C with the Castagnoli polynomial", () => {
      assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
      assert.equal(crc32c(Buffer.from("6789"), crc32c(Buffer.from("12345"))), 0xe3069283);
      assert.equal(crc32cBase64(0xe3069283), "4waSgw==");
    });

    it("take an object in 256 KiB-multiple chunks, answering 308 with the Range persisted", async () => {
      const data = pattern(3 * CHUNK_UNIT + 1000);
      const uri = await session("a/b.tar.gz", {
        headers: { "x-upload-content-type": "application/gzip" },
      });
      const nothing = await query(uri);
      assert.equal(nothing.status, 308);
      assert.equal(nothing.headers.get("range"), null, "no Range before any byte");
      let res = await put(uri, data.subarray(0, 2 * CHUNK_UNIT), 0, "*");
      assert.equal(res.status, 308);
      assert.equal(res.headers.get("range"), `bytes=0-${2 * CHUNK_UNIT - 1}`);
      res = await put(
        uri,
        data.subarray(2 * CHUNK_UNIT, 3 * CHUNK_UNIT),
        2 * CHUNK_UNIT,
        data.length,
      );
      assert.equal(res.headers.get("range"), `bytes=0-${3 * CHUNK_UNIT - 1}`);
      res = await query(uri, data.length);
      assert.equal(res.status, 308);
      assert.equal(res.headers.get("range"), `bytes=0-${3 * CHUNK_UNIT - 1}`);
      res = await put(uri, data.subarray(3 * CHUNK_UNIT), 3 * CHUNK_UNIT, data.length, {
        "x-goog-hash": hashOf(data),
      });
      assert.equal(res.status, 200);
      const object = (await res.json()) as Record<string, string>;
      assert.equal(object.name, "a/b.tar.gz");
      assert.equal(object.size, String(data.length));
      assert.equal(object.crc32c, crc32cBase64(crc32c(data)));
      assert.equal(object.md5Hash, md5(data));
      assert.equal(object.contentType, "application/gzip");
      assert.ok(gcp.state.objectBytes(BUCKET, "a/b.tar.gz").equals(data));
      assert.equal(gcp.state.bytesReceivedFor(BUCKET, "a/b.tar.gz"), data.length);
      // A completed session answers with the object; objects.get and alt=media agree.
      assert.equal((await query(uri)).status, 200);
      const meta = await get(`${gcp.storageEndpoint}/storage/v1/b/${BUCKET}/o/a%2Fb.tar.gz`);
      assert.equal(meta.body.crc32c, object.crc32c);
      const media = await fetch(
        `${gcp.storageEndpoint}/storage/v1/b/${BUCKET}/o/a%2Fb.tar.gz?alt=media`,
        { headers: auth },
      );
      assert.ok(Buffer.from(await media.arrayBuffer()).equals(data));
      const list = await get(`${gcp.storageEndpoint}/storage/v1/b/${BUCKET}/o?prefix=a/`);
      assert.deepEqual(
        list.body.items!.map((i) => i.name),
        ["a/b.tar.gz"],
      );
    });

    it("finalize with an empty `bytes */TOTAL` when the last chunk ended on a boundary", async () => {
      const data = pattern(CHUNK_UNIT, 2);
      const uri = await session("exact");
      assert.equal((await put(uri, data, 0, "*")).status, 308);
      const res = await query(uri, CHUNK_UNIT);
      assert.equal(res.status, 200);
      assert.equal(gcp.state.object(BUCKET, "exact").size, CHUNK_UNIT);
    });

    it("keep the whole 256 KiB units of a chunk cut off, and resume without resending them", async () => {
      const data = pattern(3 * CHUNK_UNIT + 5, 3);
      const uri = await session("resumed");
      gcp.faults.add({ operation: "uploads.put", fault: { kind: "drop", afterBytes: 300_000 } });
      await assert.rejects(put(uri, data.subarray(0, 2 * CHUNK_UNIT), 0, data.length));
      const res = await query(uri);
      assert.equal(res.status, 308);
      assert.equal(res.headers.get("range"), `bytes=0-${CHUNK_UNIT - 1}`);
      // Resending from 0 is refused: the session has persisted 256 KiB.
      const again = await put(uri, data.subarray(0, CHUNK_UNIT), 0, data.length);
      assert.equal(again.status, 400);
      assert.match(await again.text(), /persisted 262144 bytes: query the offset/);
      const rest = await put(uri, data.subarray(CHUNK_UNIT), CHUNK_UNIT, data.length, {
        "x-goog-hash": hashOf(data),
      });
      assert.equal(rest.status, 200);
      assert.ok(gcp.state.objectBytes(BUCKET, "resumed").equals(data));
      assert.equal(
        gcp.state.bytesReceivedFor(BUCKET, "resumed"),
        data.length + (300_000 - CHUNK_UNIT),
        "only the bytes past the last whole unit were sent twice",
      );
      assert.deepEqual(gcp.state.leftoverUploads(), []);
    });

    it("refuse misaligned chunks, gaps, and totals that change", async () => {
      const uri = await session("strict", { headers: { "x-upload-content-length": "600000" } });
      let res = await put(uri, pattern(1000), 0, "*");
      assert.equal(res.status, 400);
      assert.match(await res.text(), /multiple of 262144, except for the final request/);
      res = await put(uri, pattern(CHUNK_UNIT), CHUNK_UNIT, "*");
      assert.equal(res.status, 400);
      res = await put(uri, pattern(CHUNK_UNIT), 0, 700000);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /differs from the one declared before \(600000\)/);
      res = await fetch(uri, {
        method: "PUT",
        headers: { "content-range": "bytes 0-1" },
        body: "ab",
      });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /Failed to parse Content-Range/);
    });

    it("refuse a final chunk whose crc32c or md5 disagrees with the data, and fail the session", async () => {
      const data = pattern(5000, 4);
      const uri = await session("bad-crc");
      const res = await put(uri, data, 0, data.length, {
        "x-goog-hash": `crc32c=${crc32cBase64(crc32c(data) ^ 1)}`,
      });
      assert.equal(res.status, 400);
      const body = (await res.json()) as {
        error: { code: number; message: string; errors: { reason: string }[] };
      };
      assert.equal(body.error.code, 400);
      assert.equal(body.error.errors[0]!.reason, "invalid");
      assert.match(
        body.error.message,
        /^Provided CRC32C ".*" doesn't match calculated CRC32C ".*"\.$/,
      );
      assert.equal((await query(uri)).status, 410);
      assert.throws(() => gcp.state.object(BUCKET, "bad-crc"));

      const uri2 = await session("bad-md5", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ md5Hash: md5(Buffer.from("other")) }),
      });
      const res2 = await put(uri2, data, 0, data.length);
      assert.equal(res2.status, 400);
      assert.match(await res2.text(), /Provided MD5 hash/);
    });

    it("answer cancelled sessions 499 then 410, expired ones 404, and honour ifGenerationMatch=0", async () => {
      const uri = await session("c");
      assert.equal((await fetch(uri, { method: "DELETE" })).status, 499);
      assert.equal((await query(uri)).status, 410);
      const uri2 = await session("e");
      gcp.state.expireUpload(new URL(uri2).searchParams.get("upload_id")!);
      assert.equal((await query(uri2)).status, 404);
      await upload("once", pattern(10));
      const res = await fetch(
        `${gcp.storageEndpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=once&ifGenerationMatch=0`,
        { method: "POST", headers: auth },
      );
      assert.equal(res.status, 412);
      const missing = await fetch(
        `${gcp.storageEndpoint}/upload/storage/v1/b/nope/o?uploadType=resumable&name=x`,
        { method: "POST", headers: auth },
      );
      assert.equal(missing.status, 404);
      const del = await fetch(`${gcp.storageEndpoint}/storage/v1/b/${BUCKET}/o/once`, {
        method: "DELETE",
        headers: auth,
      });
      assert.equal(del.status, 204);
      const gone = await get(`${gcp.storageEndpoint}/storage/v1/b/${BUCKET}/o/once`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error?.message, `No such object: ${BUCKET}/once`);
    });
  });

  describe("auth and faults", () => {
    it("refuse calls without the bearer token, or with another, with Google's 401 body", async () => {
      const url = compute("images");
      const none = await fetch(url);
      assert.equal(none.status, 401);
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      const body = (await none.json()) as { error: { code: number; errors: { reason: string }[] } };
      assert.equal(body.error.code, 401);
      assert.equal(body.error.errors[0]!.reason, "required");
      const wrong = await fetch(url, { headers: { authorization: "Bearer ya29.other" } });
      assert.equal(wrong.status, 401);
      assert.equal(((await wrong.json()) as typeof body).error.errors[0]!.reason, "authError");
      const upload = await fetch(
        `${gcp.storageEndpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=x`,
        { method: "POST" },
      );
      assert.equal(upload.status, 401);
      assert.equal((await get(url)).status, 200);
    });

    it("answer 429 and 503 as told, then normally; record each call", async () => {
      gcp.faults
        .add({ operation: "uploads.start", fault: { kind: "throttle" } })
        .add({ operation: "images.list", fault: { kind: "error" }, times: 2 });
      const first = await fetch(
        `${gcp.storageEndpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=x`,
        { method: "POST", headers: auth },
      );
      assert.equal(first.status, 429);
      assert.equal(((await first.json()) as Body).error?.errors[0]!.reason, "rateLimitExceeded");
      await session("x");
      assert.equal((await get(compute("images"))).status, 503);
      const second = await get(compute("images"));
      assert.equal(second.status, 503);
      assert.equal(second.body.error?.errors[0]!.reason, "backendError");
      assert.equal((await get(compute("images"))).status, 200);
      assert.deepEqual(
        gcp.state.calls.map((c) => [c.operation, c.status, c.fault ?? ""]),
        [
          ["uploads.start", 429, "throttle"],
          ["uploads.start", 200, ""],
          ["images.list", 503, "error"],
          ["images.list", 503, "error"],
          ["images.list", 200, ""],
        ],
      );
      assert.deepEqual(gcp.faults.pending, []);
    });
  });

  describe("Compute images", () => {
    it("make an image from an oskit gce artifact: PENDING → RUNNING → DONE, READY with its labels", async () => {
      await gcp.close();
      await start({ operationDelayMs: 400, waitMaxMs: 100 });
      await upload("s.img.tar.gz", artifact);
      const labels = { "oskit-digest": "0123456789abcdef", "oskit-owner": "dev_stack-img" };
      const op = await insert({
        name: "hello-1",
        family: "hello",
        description: `sha256:${"a".repeat(64)}`,
        labels,
        architecture: "X86_64",
        storageLocations: ["eu"],
        guestOsFeatures: [
          { type: "UEFI_COMPATIBLE" },
          { type: "VIRTIO_SCSI_MULTIQUEUE" },
          { type: "GVNIC" },
        ],
        rawDisk: { source: source("s.img.tar.gz") },
      });
      assert.equal(op.status, "PENDING");
      assert.equal((await get(compute("images/hello-1"))).body.status, "PENDING");
      const seen = new Set<string>([op.status]);
      let last = op;
      while (last.status !== "DONE") {
        last = await wait(op);
        seen.add(last.status);
      }
      assert.deepEqual([...seen], ["PENDING", "RUNNING", "DONE"]);
      assert.equal(last.error, undefined);
      const image = (await get(compute("images/hello-1"))).body;
      assert.equal(image.status, "READY");
      assert.deepEqual(image.labels, labels);
      assert.equal(image.diskSizeGb, "1");
      assert.equal(image.archiveSizeBytes, String(artifact.length));
      assert.deepEqual(
        (image.guestOsFeatures as { type: string }[]).map((f) => f.type),
        ["UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "GVNIC"],
      );
      const list = await get(
        `${compute("images")}?filter=${encodeURIComponent('labels.oskit-digest = "0123456789abcdef" AND labels.oskit-owner = dev_stack-img')}`,
      );
      assert.deepEqual(
        list.body.items!.map((i) => i.name),
        ["hello-1"],
      );
      const none = await get(
        `${compute("images")}?filter=${encodeURIComponent("labels.oskit-owner = other")}`,
      );
      assert.equal(none.body.items, undefined);
      assert.equal((await get(compute("images/family/hello"))).body.name, "hello-1");

      const again = await post(compute("images"), {
        name: "hello-1",
        rawDisk: { source: source("s.img.tar.gz") },
      });
      assert.equal(again.status, 409);
      assert.equal(
        ((await again.json()) as Body).error?.message,
        `The resource 'projects/${gcp.project}/global/images/hello-1' already exists`,
      );

      const del = await fetch(compute("images/hello-1"), { method: "DELETE", headers: auth });
      const delOp = (await del.json()) as Operation;
      let done = delOp;
      while (done.status !== "DONE") done = await wait(delOp);
      const gone = await get(compute("images/hello-1"));
      assert.equal(gone.status, 404);
      assert.equal(
        gone.body.error?.message,
        `The resource 'projects/${gcp.project}/global/images/hello-1' was not found`,
      );
    });

    it("answer a repeated requestId with its first operation", async () => {
      await upload("s.img.tar.gz", artifact);
      const id = "5b3c2d8e-1f4a-4c7b-9e2d-0a1b2c3d4e5f";
      const body = { name: "r", rawDisk: { source: `gs://${BUCKET}/s.img.tar.gz` } };
      const a = (await (
        await post(`${compute("images")}?requestId=${id}`, body)
      ).json()) as Operation;
      const b = (await (
        await post(`${compute("images")}?requestId=${id}`, body)
      ).json()) as Operation;
      assert.equal(a.name, b.name);
      assert.equal((await wait(a)).error, undefined);
    });

    const tarballCases: [string, () => Promise<Buffer> | Buffer, RegExp, string?][] = [
      [
        "a member not named disk.raw",
        async () => gzipSync(await sparseTar("root.img", GIB)),
        /^The file inside the tar archive was named 'root.img'\. It should be named 'disk.raw'\.$/,
      ],
      [
        "a disk not a whole number of GiB",
        async () => gzipSync(await sparseTar("disk.raw", GIB + 512 * 1024)),
        /is 1074266112 bytes, not a whole number of GiB/,
      ],
      [
        "a POSIX ustar archive",
        async () => gzipSync(await tarOf({ "disk.raw": "x" })),
        /^The tar archive format is not supported\. Supported formats are: GNU and OLDGNU\.$/,
      ],
      [
        "a tar that is not gzip'd",
        () => sparseTar("disk.raw", GIB),
        /not a gzip-compressed tar archive/,
      ],
      [
        "a tarball cut short",
        () => artifact.subarray(0, Math.floor(artifact.length / 2)),
        /not a valid image/,
      ],
      [
        "an object that does not exist",
        () => Buffer.alloc(0),
        /was not found/,
        "RESOURCE_NOT_FOUND",
      ],
    ];
    for (const [what, make, message, code] of tarballCases) {
      it(`end the insert operation in an error for ${what}, and remove the image`, async () => {
        const data = await make();
        if (data.length > 0) await upload("bad.tar.gz", data);
        const op = await insert({ name: "bad", rawDisk: { source: source("bad.tar.gz") } });
        const done = await wait(op);
        assert.equal(done.status, "DONE");
        assert.equal(done.error?.errors.length, 1);
        assert.equal(done.error.errors[0]!.code, code ?? "INVALID_IMAGE_TAR");
        assert.match(done.error.errors[0]!.message, message);
        assert.equal((await get(compute("images/bad"))).status, 404);
      });
    }

    it("end the operation in the error a test queues", async () => {
      await upload("s.img.tar.gz", artifact);
      gcp.faults.add({
        operation: "images.insert",
        fault: { kind: "fail", code: "QUOTA_EXCEEDED", message: "Quota 'IMAGES' exceeded." },
      });
      const done = await wait(
        await insert({ name: "q", rawDisk: { source: source("s.img.tar.gz") } }),
      );
      assert.deepEqual(done.error, {
        errors: [{ code: "QUOTA_EXCEEDED", message: "Quota 'IMAGES' exceeded." }],
      });
    });

    it("refuse bad names, labels, features, locations and sources at once with 400", async () => {
      const good = { name: "ok", rawDisk: { source: source("s.img.tar.gz") } };
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ ...good, name: "Hello" }, /Invalid value for field 'resource.name': 'Hello'/],
        [{ ...good, name: "a".repeat(64) }, /field 'resource.name'/],
        [{ ...good, name: "ends-" }, /field 'resource.name'/],
        [{ rawDisk: good.rawDisk }, /Required field 'resource.name' not specified/],
        [{ ...good, family: "9x" }, /field 'resource.family'/],
        [{ ...good, labels: { Owner: "x" } }, /Label key 'Owner' violates format constraints/],
        [{ ...good, labels: { "1x": "x" } }, /Label key '1x'/],
        [{ ...good, labels: { owner: "x".repeat(64) } }, /Label value 'x{64}' violates/],
        [{ ...good, labels: { owner: "sha256:ab" } }, /Label value 'sha256:ab'/],
        [
          { ...good, guestOsFeatures: [{ type: "UEFI" }] },
          /'resource.guestOsFeatures\[0\].type': 'UEFI'/,
        ],
        [{ ...good, architecture: "amd64" }, /'resource.architecture': 'amd64'/],
        [{ ...good, storageLocations: ["eu", "us"] }, /'resource.storageLocations'/],
        [
          { ...good, rawDisk: { source: `${gcp.storageEndpoint}/${BUCKET}/x` } },
          /'resource.rawDisk.source'/,
        ],
        [{ ...good, rawDisk: {} }, /Required field 'resource.rawDisk.source'/],
        [{ ...good, rawDisk: { ...good.rawDisk, containerType: "ZIP" } }, /containerType/],
        [{ ...good, sourceUri: "x" }, /Unknown name \\"sourceUri\\"/],
      ];
      for (const [body, message] of cases) {
        const res = await post(compute("images"), body);
        const text = await res.text();
        assert.equal(res.status, 400, text);
        assert.match(text, message);
      }
      assert.equal(gcp.state.images.size, 0);
      assert.equal((await get(compute("operations/operation-1"))).status, 404);
      const other = await get(`${gcp.computeEndpoint}/compute/v1/projects/other/global/images`);
      assert.equal(other.status, 404);
    });
  });
});
