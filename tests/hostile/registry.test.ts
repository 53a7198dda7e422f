import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { OskitError, ResolveError } from "../../sdk/errors";
import { MediaType } from "../../sdk/resolve/oci";
import { pull } from "../../sdk/resolve/pull";
import { MAX_MANIFEST_BYTES, RegistryClient } from "../../sdk/resolve/registry/client";
import type { RegistryOptions } from "../../sdk/resolve/registry/hosts";
import { ContentStore } from "../../sdk/resolve/store/store";
import { hasStackTrace, oskitAsync } from "../support/cli";
import { freePort, scratchStores, storeProblems, treeSnapshot } from "../support/registry";

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

/** One try per request and short timeouts: a hostile answer must fail fast, not be retried. */
const OPTIONS: RegistryOptions = { timeoutMs: 3000, attempts: 1, backoffMs: 10 };
const MiB = 1024 * 1024;

const sha256 = (data: Buffer | string) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A manifest's bytes, its digest, and a config blob for it. */
function image(
  config: Buffer = Buffer.from(
    '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
  ),
) {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha256(config), size: config.length },
      layers: [],
    }),
  );
  return { manifest, digest: sha256(manifest), config, configDigest: sha256(config) };
}

/** Streams `chunk` until the client goes away, counting what was sent. */
function endless(res: ServerResponse, chunk: Buffer, sent: { bytes: number }): void {
  const write = () => {
    while (!res.destroyed) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", write);
        return;
      }
    }
  };
  res.on("close", () => undefined);
  write();
}

describe("hostile registry answers", function () {
  this.timeout(20000);
  const stores = scratchStores();
  let server: Server;
  let host: string;
  let handler: Handler;
  let root: string;
  let store: ContentStore;
  let snapshot: string[];

  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", `http://${host}`);
      try {
        handler(req, res, url);
      } catch {
        res.destroy();
      }
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
    stores.cleanup();
  });
  beforeEach(async () => {
    RegistryClient.reset();
    root = stores.make();
    store = await ContentStore.open(root);
    snapshot = treeSnapshot(root);
  });
  afterEach(() => server.closeAllConnections());

  /** Pulls `host/hostile/app:1`, expecting a ResolveError within `ms`; checks the store is as it was. */
  async function refused(ms = 5000, ref = `${host}/hostile/app:1`): Promise<string> {
    const started = Date.now();
    let error: unknown;
    try {
      await pull(ref, store, { registry: OPTIONS });
    } catch (e) {
      error = e;
    }
    const took = Date.now() - started;
    assert.ok(error instanceof ResolveError, `expected a ResolveError, got ${String(error)}`);
    assert.ok(took < ms, `took ${took} ms`);
    assert.deepEqual(treeSnapshot(root), snapshot, "the store is unchanged");
    assert.deepEqual(storeProblems(root), []);
    return error.message;
  }

  /** A registry serving one manifest (and its config) under tag 1, with `override` first. */
  function serve(override: (path: string, res: ServerResponse, req: IncomingMessage) => boolean) {
    const img = image();
    handler = (req, res, url) => {
      if (override(url.pathname, res, req)) return;
      if (url.pathname === "/v2/hostile/app/manifests/1") {
        res.writeHead(200, { "Content-Type": MediaType.OciManifest });
        res.end(img.manifest);
      } else if (url.pathname === `/v2/hostile/app/blobs/${img.configDigest}`) {
        res.end(img.config);
      } else {
        res.writeHead(404).end();
      }
    };
    return img;
  }

  describe("GIVEN manifests too large to read", () => {
    it("WHEN Content-Length claims 10 GiB THEN the manifest is refused from the header, naming the limit", async () => {
      const sent = { bytes: 0 };
      serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        res.writeHead(200, {
          "Content-Type": MediaType.OciManifest,
          "Content-Length": String(10 * 1024 * MiB),
        });
        endless(res, Buffer.alloc(64 * 1024, "{"), sent);
        return true;
      });
      const message = await refused(2000);
      assert.match(
        message,
        /hostile\/app:1 manifest is 10737418240 bytes, over oskit's limit of 4194304 bytes \(4 MiB\)/,
      );
    });

    it("WHEN a 100 MiB manifest comes without a length THEN reading stops just past the 4 MiB limit", async () => {
      const sent = { bytes: 0 };
      serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        res.writeHead(200, { "Content-Type": MediaType.OciManifest });
        endless(res, Buffer.alloc(64 * 1024, " "), sent);
        return true;
      });
      const message = await refused(3000);
      assert.match(
        message,
        /manifest is more than 4194304 bytes, over oskit's limit of 4194304 bytes \(4 MiB\); stopped reading there/,
      );
      assert.ok(sent.bytes < 100 * MiB, `the server sent ${sent.bytes} bytes`);
      assert.equal(MAX_MANIFEST_BYTES, 4 * MiB);
    });

    it("WHEN an error answer never ends THEN the status is reported without reading it all", async () => {
      const sent = { bytes: 0 };
      serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        res.writeHead(404, { "Content-Type": "text/plain" });
        endless(res, Buffer.alloc(64 * 1024, "e"), sent);
        return true;
      });
      assert.match(await refused(3000), /GET http:\/\/.*\/manifests\/1 answered 404/);
    });
  });

  describe("GIVEN manifests that are not what they claim", () => {
    const cases: readonly {
      readonly name: string;
      readonly type: string | undefined;
      readonly body: string;
      readonly message: RegExp;
    }[] = [
      {
        name: "malformed JSON",
        type: MediaType.OciManifest,
        body: '{"schemaVersion": 2, "config": {',
        message:
          /app:1 manifest sha256:[a-f0-9]{64} is not JSON \(32 bytes sent as application\/vnd\.oci\.image\.manifest\.v1\+json\)/,
      },
      {
        name: "garbage without a Content-Type",
        type: undefined,
        body: "\u0000\u0001garbage",
        message: /answered with media type ""; expected an OCI or Docker image manifest or index/,
      },
      {
        name: "an HTML page",
        type: "text/html; charset=utf-8",
        body: "<html><body>Login</body></html>",
        message: /answered with media type "text\/html"; expected/,
      },
      {
        name: "JSON of the wrong shape",
        type: MediaType.OciManifest,
        body: JSON.stringify({ schemaVersion: 2, config: "x", layers: {} }),
        message: /manifest sha256:[a-f0-9]{64} is not a valid OCI document: config: /,
      },
      {
        name: "JSON that is not an object",
        type: MediaType.OciIndex,
        body: "null",
        message: /app:1 index is not a valid OCI document: \(top\)/,
      },
      {
        name: "a manifest whose mediaType is a layer's",
        type: MediaType.OciManifest,
        body: JSON.stringify({
          ...JSON.parse(image().manifest.toString()),
          mediaType: MediaType.OciLayerGzip,
        }),
        message:
          /was sent as application\/vnd\.oci\.image\.manifest\.v1\+json but says it is application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/,
      },
      {
        name: "a layer media type",
        type: MediaType.OciLayerGzip,
        body: "\u001f\u008b",
        message: /answered with media type "application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip"/,
      },
    ];
    for (const c of cases) {
      it(`WHEN the registry sends ${c.name} THEN the pull is refused, saying what was wrong`, async () => {
        serve((path, res) => {
          if (!path.endsWith("/manifests/1")) return false;
          res.writeHead(200, c.type === undefined ? {} : { "Content-Type": c.type });
          res.end(c.body);
          return true;
        });
        const message = await refused();
        assert.match(message, c.message);
        assert.match(message, new RegExp(`${host.replace(/\./g, "\\.")}/hostile/app:1`));
      });
    }

    it("WHEN an index names an index where an image manifest belongs THEN it is refused", async () => {
      const inner = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
      );
      const top = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciIndex,
          manifests: [
            {
              mediaType: MediaType.OciManifest,
              digest: sha256(inner),
              size: inner.length,
              platform: { os: "linux", architecture: "amd64" },
            },
          ],
        }),
      );
      serve((path, res) => {
        if (path.endsWith("/manifests/1"))
          res.writeHead(200, { "Content-Type": MediaType.OciIndex }).end(top);
        else if (path.endsWith(`/manifests/${sha256(inner)}`))
          res.writeHead(200, { "Content-Type": MediaType.OciIndex }).end(inner);
        else return false;
        return true;
      });
      assert.match(
        await refused(),
        new RegExp(
          `manifest ${sha256(inner)}: the registry answered with media type "application/vnd\\.oci\\.image\\.index\\.v1\\+json" where an image manifest belongs`,
        ),
      );
    });

    it("WHEN Docker-Content-Digest disagrees with the body THEN the manifest is refused", async () => {
      const img = serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        res.writeHead(200, {
          "Content-Type": MediaType.OciManifest,
          "Docker-Content-Digest": sha256("something else"),
        });
        res.end(image().manifest);
        return true;
      });
      assert.match(
        await refused(),
        new RegExp(
          `the registry says its digest is ${sha256("something else")}, but its bytes hash to ${img.digest}`,
        ),
      );
    });
  });

  describe("GIVEN redirects that never arrive", () => {
    it("WHEN the manifest URL redirects to itself THEN the pull stops after a bounded number of hops, naming the URL", async () => {
      let hops = 0;
      serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        hops++;
        res.writeHead(307, { Location: path }).end();
        return true;
      });
      const message = await refused();
      assert.match(
        message,
        new RegExp(
          `more than 10 redirects from http://${host}/v2/hostile/app/manifests/1 \\(a loop back to http://${host}/v2/hostile/app/manifests/1\\)`,
        ),
      );
      assert.equal(hops, 11);
    });

    it("WHEN a blob URL redirects in a cycle between two places THEN nothing is stored", async () => {
      const img = serve((path, res) => {
        if (path.includes("/blobs/")) res.writeHead(302, { Location: "/elsewhere/a" }).end();
        else if (path === "/elsewhere/a") res.writeHead(302, { Location: "/elsewhere/b" }).end();
        else if (path === "/elsewhere/b") res.writeHead(302, { Location: "/elsewhere/a" }).end();
        else return false;
        return true;
      });
      const message = await refused();
      assert.match(
        message,
        new RegExp(
          `blob ${img.configDigest}: more than 10 redirects from http://${host}/v2/hostile/app/blobs/`,
        ),
      );
      assert.match(message, /a loop back to http:\/\/.*\/elsewhere\/[ab]/);
    });

    it("WHEN a redirect points at a file: URL or is not a URL THEN it is not followed", async () => {
      for (const location of ["file:///etc/passwd", "http://[::1"]) {
        RegistryClient.reset();
        serve((path, res) => {
          if (!path.endsWith("/manifests/1")) return false;
          res.writeHead(302, { Location: location }).end();
          return true;
        });
        assert.match(
          await refused(),
          location.startsWith("file")
            ? /file: URLs are not followed/
            : /"http:\/\/\[::1" is not a URL/,
        );
      }
    });
  });

  describe("GIVEN blob bodies longer than their descriptors", () => {
    it("WHEN the config blob never ends THEN reading stops past its size and nothing is stored", async () => {
      const sent = { bytes: 0 };
      const img = serve((path, res) => {
        if (!path.includes("/blobs/")) return false;
        res.writeHead(200, { "Content-Type": "application/octet-stream" });
        endless(res, Buffer.alloc(16 * 1024, "z"), sent);
        return true;
      });
      const message = await refused();
      assert.match(
        message,
        new RegExp(
          `blob ${img.configDigest} is longer than its ${img.config.length} bytes; nothing was stored`,
        ),
      );
      assert.ok(sent.bytes < 64 * MiB, `the server sent ${sent.bytes} bytes`);
    });

    it("WHEN the blob's Content-Length claims 10 GiB THEN the same refusal comes without waiting for it", async () => {
      const img = serve((path, res) => {
        if (!path.includes("/blobs/")) return false;
        res.writeHead(200, { "Content-Length": String(10 * 1024 * MiB) });
        res.write(Buffer.concat([image().config, Buffer.alloc(1024)]));
        return true;
      });
      assert.match(await refused(), new RegExp(`blob ${img.configDigest} is longer than its`));
    });
  });

  describe("GIVEN a token service answering garbage", () => {
    const answers: readonly {
      name: string;
      status?: number;
      body: string | Buffer;
      message: RegExp;
    }[] = [
      {
        name: "an HTML page",
        body: "<html>oops</html>",
        message: /answered something that is not JSON/,
      },
      { name: "JSON null", body: "null", message: /sent no usable token/ },
      { name: "a number for the token", body: '{"token": 5}', message: /sent no usable token/ },
      {
        name: "a token with a line break",
        body: '{"token": "a\\r\\nX-Evil: 1"}',
        message: /sent no usable token/,
      },
      {
        name: "10 MiB of JSON",
        body: `{"token":"${"a".repeat(10 * MiB)}"}`,
        message: /answer is (more than )?\d+ bytes, over oskit's limit of 1048576 bytes/,
      },
    ];
    for (const answer of answers) {
      it(`WHEN it sends ${answer.name} THEN the pull is refused, naming the token service`, async () => {
        serve((path, res) => {
          if (path === "/token") {
            res.writeHead(200, { "Content-Type": "application/json" }).end(answer.body);
            return true;
          }
          if (path.startsWith("/v2/")) {
            res
              .writeHead(401, {
                "WWW-Authenticate": `Bearer realm="http://${host}/token",service="hostile"`,
              })
              .end();
            return true;
          }
          return false;
        });
        const message = await refused();
        assert.match(message, new RegExp(`the token service http://${host}/token`));
        assert.match(message, answer.message);
      });
    }

    it("WHEN the realm is not an HTTP URL THEN no request is made to it", async () => {
      for (const [realm, message] of [
        ["file:///etc/passwd", /the token realm of .*: file: URLs are not followed/],
        ['data:,{"token":"x"}', /data: URLs are not followed/],
        ["not a url", /"not a url" is not a URL/],
      ] as const) {
        RegistryClient.reset();
        serve((path, res) => {
          if (!path.startsWith("/v2/")) return false;
          res.writeHead(401, { "WWW-Authenticate": `Bearer realm="${realm}"` }).end();
          return true;
        });
        assert.match(await refused(), message);
      }
    });

    it("WHEN the token service cannot be reached THEN the error is a ResolveError, not a TypeError", async () => {
      const closed = await freePort();
      serve((path, res) => {
        if (!path.startsWith("/v2/")) return false;
        res
          .writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${closed}/token"` })
          .end();
        return true;
      });
      assert.match(
        await refused(),
        new RegExp(`the token service http://127\\.0\\.0\\.1:${closed}/token failed: ECONNREFUSED`),
      );
    });
  });

  describe("GIVEN oskit pull on the command line", () => {
    it("WHEN the registry loops redirects THEN it exits 1 with one line, no stack trace, store unchanged", async () => {
      serve((path, res) => {
        if (!path.endsWith("/manifests/1")) return false;
        res.writeHead(301, { Location: path }).end();
        return true;
      });
      const result = await oskitAsync(["pull", `${host}/hostile/app:1`, "--store", root]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /more than 10 redirects/);
      assert.equal(hasStackTrace(result.stderr), false, result.stderr);
      assert.deepEqual(treeSnapshot(root), snapshot);
      assert.ok(OskitError.is(new ResolveError("x")));
    });
  });
});
