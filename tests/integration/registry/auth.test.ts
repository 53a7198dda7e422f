import { strict as assert } from "node:assert";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pull } from "../../../sdk/resolve/pull";
import { push } from "../../../sdk/resolve/push";
import { RegistryClient } from "../../../sdk/resolve/registry/client";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { hasStackTrace, oskitAsync } from "../../support/cli";
import { startBlobStorage, startFaultProxy } from "../../support/fault-proxy";
import { storeImage } from "../../support/images";
import { TMP } from "../../support/paths";
import { scratchStores, startRegistry, type RunningRegistry } from "../../support/registry";
import { tarOf } from "../../support/tar";
import { startTokenServer, type TokenServer } from "../../support/token-server";

const stores = scratchStores();

/** A DOCKER_CONFIG directory with this config.json, and a PATH that finds `docker-credential-oskittest`. */
function dockerConfig(config: object, helperAnswers: Record<string, object> = {}) {
  mkdirSync(TMP, { recursive: true });
  const dir = mkdtempSync(join(TMP, "docker-config-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const helper = join(bin, "docker-credential-oskittest");
  const answers = join(dir, "answers.json");
  writeFileSync(answers, JSON.stringify(helperAnswers));
  writeFileSync(
    helper,
    [
      `#!${process.execPath}`,
      `const fs = require("node:fs");`,
      `const server = fs.readFileSync(0, "utf8").trim();`,
      `fs.appendFileSync(${JSON.stringify(join(dir, "helper.log"))}, process.argv[2] + " " + server + "\\n");`,
      `const answer = JSON.parse(fs.readFileSync(${JSON.stringify(answers)}, "utf8"))[server];`,
      `if (answer === undefined) { process.stdout.write("credentials not found in native keychain"); process.exit(1); }`,
      `process.stdout.write(JSON.stringify({ ServerURL: server, ...answer }));`,
    ].join("\n"),
  );
  chmodSync(helper, 0o755);
  const env = { ...process.env, DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH ?? ""}` };
  return {
    env,
    helperLog: () => {
      try {
        return readFileSync(join(dir, "helper.log"), "utf8");
      } catch {
        return "";
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const basic = (user: string, password: string) =>
  Buffer.from(`${user}:${password}`).toString("base64");

async function sourceImage(ref: string): Promise<ContentStore> {
  const store = await ContentStore.open(stores.make());
  await storeImage(store, { ref, layers: [await tarOf({ "etc/hostname": ref })] });
  return store;
}

describe("registry: credentials and authentication", function () {
  this.timeout(60000);
  after(() => stores.cleanup());
  beforeEach(() => RegistryClient.reset());

  describe("htpasswd basic auth", () => {
    let registry: RunningRegistry;
    before(async () => {
      registry = await startRegistry({
        auth: { kind: "htpasswd", users: { oskit: "s3cret-pw" } },
      });
    });
    after(async () => registry?.stop());

    it("tells an anonymous caller to log in, naming the reference", async () => {
      const config = dockerConfig({});
      try {
        const ref = `${registry.host}/test/basic:1`;
        const result = await oskitAsync(["pull", ref, "--store", stores.make()], {
          env: config.env,
        });
        assert.equal(result.code, 1);
        assert.match(result.stderr, new RegExp(`${ref} manifest: .*docker login ${registry.host}`));
        assert.ok(!hasStackTrace(result.stderr), result.stderr);
      } finally {
        config.remove();
      }
    });

    it("pushes and pulls with the user and password of Docker's auths entry", async () => {
      const config = dockerConfig({
        auths: { [registry.host]: { auth: basic("oskit", "s3cret-pw") } },
      });
      try {
        const ref = `${registry.host}/test/basic:1`;
        const store = await sourceImage(ref);
        const pushed = await oskitAsync(["push", ref, "--store", store.root], { env: config.env });
        assert.equal(pushed.code, 0, pushed.stderr);
        const pulled = await oskitAsync(["pull", ref, "--store", stores.make()], {
          env: config.env,
        });
        assert.equal(pulled.code, 0, pulled.stderr);
        assert.equal(pulled.stdout, pushed.stdout);
      } finally {
        config.remove();
      }
    });

    it("reports a wrong password with the status", async () => {
      const config = dockerConfig({
        auths: { [registry.host]: { auth: basic("oskit", "wrong") } },
      });
      try {
        const result = await oskitAsync(
          ["pull", `${registry.host}/test/basic:1`, "--store", stores.make()],
          { env: config.env },
        );
        assert.equal(result.code, 1);
        assert.match(result.stderr, /answered 401 Unauthorized/);
      } finally {
        config.remove();
      }
    });

    it("asks credHelpers and credsStore helpers over the docker-credential protocol", async () => {
      const answer = { Username: "oskit", Secret: "s3cret-pw" };
      for (const config of [
        dockerConfig(
          { credHelpers: { [registry.host]: "oskittest" } },
          { [registry.host]: answer },
        ),
        dockerConfig({ credsStore: "oskittest" }, { [registry.host]: answer }),
      ]) {
        try {
          const ref = `${registry.host}/test/helper:1`;
          const store = await sourceImage(ref);
          const pushed = await oskitAsync(["push", ref, "--store", store.root], {
            env: config.env,
          });
          assert.equal(pushed.code, 0, pushed.stderr);
          assert.equal(config.helperLog(), `get ${registry.host}\n`);
        } finally {
          config.remove();
        }
      }
    });

    it("follows a redirect to blob storage on another origin without sending the credentials", async () => {
      const storage = await startBlobStorage(registry.url, {
        user: "oskit",
        password: "s3cret-pw",
      });
      const proxy = await startFaultProxy(registry.url);
      const config = dockerConfig({
        auths: { [proxy.host]: { auth: basic("oskit", "s3cret-pw") } },
      });
      try {
        const ref = `${proxy.host}/test/redirect:1`;
        const source = await sourceImage(ref);
        const pushed = await push(source, ref, ref, { registry: { env: config.env } });
        proxy.inject({
          method: "GET",
          path: /\/blobs\/sha256:/,
          fault: { kind: "redirect", to: storage.url },
        });
        const target = await ContentStore.open(stores.make());
        const pulled = await pull(ref, target, { registry: { env: config.env } });
        assert.equal(pulled.digest, pushed.digest);
        assert.equal(storage.requests.length, 2, "config and layer came from the storage origin");
        assert.ok(
          storage.requests.every((r) => !r.authorization),
          "credentials leaked",
        );
        assert.ok(
          proxy.requests.filter((r) => r.fault === "redirect").every((r) => r.authorization),
        );
      } finally {
        config.remove();
        await proxy.stop();
        await storage.stop();
      }
    });
  });

  describe("bearer tokens from a token service", () => {
    let tokens: TokenServer;
    let registry: RunningRegistry;
    before(async () => {
      tokens = await startTokenServer({
        users: { oskit: "tok-pw" },
        refreshTokens: { "refresh-abc": "oskit" },
        anonymousPull: true,
      });
      registry = await startRegistry({ auth: { kind: "token", ...tokens } });
    });
    after(async () => {
      await registry?.stop();
      await tokens?.stop();
    });
    beforeEach(() => (tokens.requests.length = 0));

    it("gets a push token with the user's password and an anonymous pull token", async () => {
      const config = dockerConfig({
        auths: { [registry.host]: { auth: basic("oskit", "tok-pw") } },
      });
      const anonymous = dockerConfig({});
      try {
        const ref = `${registry.host}/test/tok:1`;
        const pushed = await push(await sourceImage(ref), ref, ref, {
          registry: { env: config.env },
        });
        assert.deepEqual(tokens.requests[0], {
          method: "GET",
          user: "oskit",
          scopes: ["repository:test/tok:pull,push"],
          granted: ["repository:test/tok:pull,push"],
        });
        const pulled = await pull(ref, await ContentStore.open(stores.make()), {
          registry: { env: anonymous.env },
        });
        assert.equal(pulled.digest, pushed.digest);
        assert.deepEqual(tokens.requests.at(-1), {
          method: "GET",
          user: undefined,
          scopes: ["repository:test/tok:pull"],
          granted: ["repository:test/tok:pull"],
        });
      } finally {
        config.remove();
        anonymous.remove();
      }
    });

    it("refuses an anonymous push with the status and a hint to log in", async () => {
      const anonymous = dockerConfig({});
      try {
        const ref = `${registry.host}/test/anon:1`;
        await assert.rejects(
          push(await sourceImage(ref), ref, ref, { registry: { env: anonymous.env } }),
          (e: Error) =>
            /answered 401/.test(e.message) && e.message.includes(`docker login ${registry.host}`),
        );
      } finally {
        anonymous.remove();
      }
    });

    it("trades an identity token for access, and asks for both repositories when mounting", async () => {
      const config = dockerConfig({ auths: { [registry.host]: { identitytoken: "refresh-abc" } } });
      try {
        const ref = `${registry.host}/test/ident:1`;
        const store = await sourceImage(ref);
        await push(store, ref, ref, { registry: { env: config.env } });
        assert.ok(tokens.requests.length > 0);
        assert.ok(tokens.requests.every((r) => r.method === "POST" && r.user === "oskit"));
        const mounted = await push(store, ref, `${registry.host}/test/ident-copy:1`, {
          registry: { env: config.env },
        });
        assert.equal(mounted.mounted, 2);
        assert.ok(
          tokens.requests.some(
            (r) =>
              r.scopes.includes("repository:test/ident-copy:pull,push") &&
              r.scopes.includes("repository:test/ident:pull"),
          ),
        );
      } finally {
        config.remove();
      }
    });

    it("reports a refused login at the token service", async () => {
      const config = dockerConfig({ auths: { [registry.host]: { auth: basic("oskit", "nope") } } });
      try {
        const ref = `${registry.host}/test/tok:1`;
        await assert.rejects(
          pull(ref, await ContentStore.open(stores.make()), { registry: { env: config.env } }),
          /the token service http:\/\/127\.0\.0\.1:\d+\/token answered 401/,
        );
      } finally {
        config.remove();
      }
    });
  });
});
