import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageRef } from "../../../sdk/manifest/reference";
import { applyLock, parseLock } from "../../../sdk/resolve/lock";
import { credentialsFor } from "../../../sdk/resolve/registry/credentials";
import {
  registryBase,
  registryHost,
  registryOptionsFromEnv,
  repositoryPath,
} from "../../../sdk/resolve/registry/hosts";
import { parseChallenge, retryAfterMs } from "../../../sdk/resolve/registry/session";
import { validateManifest } from "../../../sdk/manifest/validate";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;

describe("registry hosts", () => {
  it("sends Docker Hub names to Docker Hub and everything else to its own registry", () => {
    const cases: [string, string, string, string][] = [
      ["alpine:3.20", "docker.io", "library/alpine", "https://registry-1.docker.io/"],
      ["linuxkit/init:v1", "docker.io", "linuxkit/init", "https://registry-1.docker.io/"],
      ["docker.io/library/alpine", "docker.io", "library/alpine", "https://registry-1.docker.io/"],
      [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "team/app",
        "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/",
      ],
      ["ghcr.io/oskit/httpd:1", "ghcr.io", "oskit/httpd", "https://ghcr.io/"],
      ["localhost:5000/x:1", "localhost:5000", "x", "http://localhost:5000/"],
      ["127.0.0.1:5000/a/b:1", "127.0.0.1:5000", "a/b", "http://127.0.0.1:5000/"],
    ];
    for (const [ref, host, repo, base] of cases) {
      const parsed = ImageRef.parse(ref);
      assert.equal(registryHost(parsed), host, ref);
      assert.equal(repositoryPath(parsed), repo, ref);
      assert.equal(registryBase(host).href, base, ref);
    }
  });

  it("allows plain HTTP only to loopback and named insecure registries", () => {
    assert.equal(registryBase("reg.internal:5000").protocol, "https:");
    assert.equal(
      registryBase("reg.internal:5000", { insecure: ["reg.internal:5000"] }).protocol,
      "http:",
    );
    assert.equal(
      registryBase("docker.io", { mirrors: { "docker.io": "http://127.0.0.1:5001" } }).href,
      "http://127.0.0.1:5001/",
    );
    assert.throws(
      () => registryBase("docker.io", { mirrors: { "docker.io": "http://mirror.lan:5000" } }),
      /plain HTTP; name mirror\.lan:5000 in --insecure-registry/,
    );
  });

  it("reads OSKIT_INSECURE_REGISTRIES and OSKIT_MIRRORS", () => {
    assert.deepEqual(
      registryOptionsFromEnv({
        OSKIT_INSECURE_REGISTRIES: "a:5000, b",
        OSKIT_MIRRORS: "docker.io=http://127.0.0.1:5000,ghcr.io=https://m.example",
      }),
      {
        insecure: ["a:5000", "b"],
        mirrors: { "docker.io": "http://127.0.0.1:5000", "ghcr.io": "https://m.example" },
      },
    );
    assert.throws(() => registryOptionsFromEnv({ OSKIT_MIRRORS: "docker.io" }), /not host=url/);
  });
});

describe("registry challenges and Retry-After", () => {
  it("parses bearer and basic challenges, quoted or not", () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/alpine:pull",
        },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="x \\"y\\""'), {
      scheme: "basic",
      params: { realm: 'x "y"' },
    });
    assert.deepEqual(parseChallenge("Bearer realm=https://a/token, service=s"), {
      scheme: "bearer",
      params: { realm: "https://a/token", service: "s" },
    });
  });

  it("reads Retry-After as seconds or as a date", () => {
    assert.equal(retryAfterMs("3"), 3000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs("soon"), undefined);
    const now = Date.parse("2026-11-23T12:00:00Z");
    assert.equal(retryAfterMs("Mon, 23 Nov 2026 12:00:05 GMT", now), 5000);
    assert.equal(retryAfterMs("Mon, 23 Nov 2026 11:00:00 GMT", now), 0);
  });
});

describe("registry credentials from Docker's config", () => {
  let dir: string;
  const env = () => ({ DOCKER_CONFIG: dir, PATH: "/nonexistent" });
  const config = (value: object) => writeFileSync(join(dir, "config.json"), JSON.stringify(value));
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-docker-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds auths entries under the names docker login uses", () => {
    const auth = Buffer.from("me:pa:ss").toString("base64");
    config({
      auths: {
        "https://index.docker.io/v1/": { auth },
        "https://ghcr.io": { username: "u", password: "p" },
        "reg.example": { identitytoken: "refresh" },
      },
    });
    assert.deepEqual(credentialsFor("docker.io", env()), { username: "me", password: "pa:ss" });
    assert.deepEqual(credentialsFor("ghcr.io", env()), { username: "u", password: "p" });
    assert.deepEqual(credentialsFor("reg.example", env()), { identityToken: "refresh" });
    assert.equal(credentialsFor("quay.io", env()), undefined);
  });

  it("is anonymous without a config, and names a helper that cannot run", () => {
    assert.equal(credentialsFor("ghcr.io", env()), undefined);
    config({ credHelpers: { "ghcr.io": "missing-helper" } });
    assert.throws(
      () => credentialsFor("ghcr.io", env()),
      /docker-credential-missing-helper \(for ghcr\.io\) cannot run/,
    );
  });

  it("names a config that is not JSON and an auth that is not user:password", () => {
    writeFileSync(join(dir, "config.json"), "{");
    assert.throws(() => credentialsFor("ghcr.io", env()), /cannot read .*config\.json/);
    config({ auths: { "ghcr.io": { auth: Buffer.from("nocolon").toString("base64") } } });
    assert.throws(() => credentialsFor("ghcr.io", env()), /not base64 of user:password/);
  });
});

describe("lock files", () => {
  const manifest = validateManifest({
    kernel: { image: "k.example/kernel:1", cmdline: "console=ttyS0" },
    init: ["k.example/init:1"],
    services: [
      { name: "a", image: "k.example/app:1" },
      { name: "b", image: `k.example/pinned:1@${D2}` },
    ],
  });

  it("pins what it knows, and reports what it does not and what it no longer uses", () => {
    const lock = parseLock(
      JSON.stringify({
        version: 1,
        images: {
          "k.example/kernel:1": { digest: D1, platforms: { "linux/amd64": D2 } },
          "k.example/app:1": { digest: D2, platforms: { "linux/amd64": D1 } },
          "k.example/gone:1": { digest: D1, platforms: {} },
        },
      }),
      "oskit.lock.json",
    );
    const applied = applyLock(manifest, lock);
    assert.equal(applied.manifest.kernel!.image, `k.example/kernel:1@${D1}`);
    assert.equal(applied.manifest.services![0]!.image, `k.example/app:1@${D2}`);
    assert.equal(applied.manifest.services![1]!.image, `k.example/pinned:1@${D2}`);
    assert.deepEqual(applied.unpinned, ["k.example/init:1"]);
    assert.deepEqual(applied.unused, ["k.example/gone:1"]);
  });

  it("refuses a lock file that is not JSON or not version 1", () => {
    assert.throws(() => parseLock("{", "x/oskit.lock.json"), /x\/oskit.lock.json is not JSON/);
    assert.throws(
      () => parseLock(JSON.stringify({ version: 2, images: {} }), "y"),
      /y is not an oskit lock file \(version 1\)/,
    );
    assert.throws(
      () =>
        parseLock(
          JSON.stringify({ version: 1, images: { a: { digest: "sha256:abc", platforms: {} } } }),
          "z",
        ),
      /z is not an oskit lock file/,
    );
  });
});
