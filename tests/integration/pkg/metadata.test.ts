// pkg/metadata's EC2 and GCE providers: the package as built (its busybox, its script), run in a
// chroot of its tree against a fake IMDSv2 or a fake GCE metadata server on 127.0.0.1, with the DMI
// files of the machine it pretends to be.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { runMetadata as run, unpackMetadata } from "../../support/metadata";
import { TMP } from "../../support/paths";

const runMetadata = (tree: string, dmi: Record<string, string>, imds: string) =>
  run(tree, dmi, { OSKIT_METADATA_IMDS: imds });

const TOKEN = "AQAEAFakeTokenFromTheTest==";
const USER_DATA = "#!/bin/sh\necho user data from EC2\n";
const KEYS = {
  "0": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake0 first-key\n",
  "1": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQFake1 second-key", // no newline at the end
};
const HOSTNAME = "ip-10-0-0-7.eu-west-1.compute.internal";

const NITRO = {
  sys_vendor: "Amazon EC2",
  product_name: "m5.large",
  board_vendor: "Amazon EC2",
  bios_vendor: "Amazon EC2",
  bios_version: "1.0",
  product_uuid: "ec2f2b6c-0a1e-4e1b-9c1a-0123456789ab",
};
const XEN = {
  sys_vendor: "Xen",
  product_name: "HVM domU",
  bios_vendor: "Xen",
  bios_version: "4.11.amazon",
  product_uuid: "EC2E1916-9099-7CAF-FD21-012345ABCDEF",
};
const QEMU = {
  sys_vendor: "QEMU",
  product_name: "Standard PC (Q35 + ICH9, 2009)",
  bios_vendor: "EFI Development Kit II / OVMF",
  bios_version: "0.0.0",
  product_uuid: "6f1c7a52-2d1e-4b4e-8f55-0123456789ab",
};
const OTHER_XEN = {
  ...XEN,
  bios_version: "4.17.3",
  product_uuid: "1a2b3c4d-0000-0000-0000-000000000000",
};

interface Request {
  readonly method: string;
  readonly url: string;
  readonly token: string | undefined;
  readonly ttl: string | undefined;
}

/** A strict IMDSv2: a token only from a PUT with a TTL, every GET without it 401. */
class FakeImds {
  readonly requests: Request[] = [];
  userData: string | undefined = USER_DATA;
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const request = {
        method: req.method ?? "",
        url: req.url ?? "",
        token: header("x-aws-ec2-metadata-token"),
        ttl: header("x-aws-ec2-metadata-token-ttl-seconds"),
      };
      this.requests.push(request);
      const answer = (status: number, body = "") => {
        res.writeHead(status, { "Content-Type": "text/plain" });
        res.end(body);
      };
      if (request.url === "/latest/api/token") {
        if (request.method !== "PUT") return answer(405);
        const ttl = Number(request.ttl);
        if (!(ttl >= 1 && ttl <= 21600)) return answer(400);
        return answer(200, TOKEN);
      }
      if (request.method !== "GET") return answer(405);
      if (request.token !== TOKEN) return answer(401);
      const keys = Object.entries(KEYS);
      const routes: Record<string, string | undefined> = {
        "/latest/user-data": this.userData,
        "/latest/meta-data/public-keys/": keys.map(([i], n) => `${i}=key-${n}`).join("\n"),
        "/latest/meta-data/hostname": HOSTNAME,
        ...Object.fromEntries(
          keys.map(([i, k]) => [`/latest/meta-data/public-keys/${i}/openssh-key`, k]),
        ),
      };
      const body = routes[request.url];
      return body === undefined ? answer(404) : answer(200, body);
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("pkg/metadata on EC2 (IMDSv2), in a chroot of the package against a fake IMDS", function () {
  this.timeout(180000);
  let tree: string;
  let imds: FakeImds;
  let url: string;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // chroot and unshare need root
    mkdirSync(TMP, { recursive: true });
    tree = mkdtempSync(join(TMP, "metadata-"));
    await unpackMetadata(tree);
  });
  after(() => tree && rmSync(tree, { recursive: true, force: true }));
  beforeEach(async () => {
    imds = new FakeImds();
    url = await imds.start();
  });
  afterEach(() => imds.stop());

  for (const [kind, dmi] of [
    ["Nitro", NITRO],
    ["Xen", XEN],
  ] as const)
    it(`GIVEN a ${kind} instance's DMI WHEN it runs THEN it takes a token with a PUT, sends it on every GET, and writes user data, keys and the hostname`, async () => {
      const run = await runMetadata(tree, dmi, url);

      assert.equal(run.config("provider"), "aws\n");
      const [first, ...gets] = imds.requests;
      assert.deepEqual(first, {
        method: "PUT",
        url: "/latest/api/token",
        token: undefined,
        ttl: "300",
      });
      assert.ok(gets.length >= 5, JSON.stringify(imds.requests));
      for (const get of gets) {
        assert.equal(get.method, "GET", get.url);
        assert.equal(get.token, TOKEN, `${get.url} carries the token`);
      }
      assert.deepEqual(
        gets.map((g) => g.url),
        [
          "/latest/user-data",
          "/latest/meta-data/public-keys/",
          "/latest/meta-data/public-keys/0/openssh-key",
          "/latest/meta-data/public-keys/1/openssh-key",
          "/latest/meta-data/hostname",
        ],
      );
      assert.equal(run.config("userdata"), USER_DATA);
      assert.equal(run.config("ssh/authorized_keys"), `${KEYS[0]}${KEYS[1]}\n`);
      assert.equal(run.config("hostname"), HOSTNAME);
      assert.match(run.stdout, /metadata: platform aws/);
      assert.match(run.stdout, /configuration from EC2 user data in \/run\/config\/userdata/);
      assert.deepEqual(
        spawnSync("ls", ["-A", join(tree, "run", "config")], { encoding: "utf8" }).stdout.split(
          "\n",
        ),
        ["hostname", "provider", "ssh", "userdata", ""],
        "no temporary files left",
      );
    });

  it("GIVEN the fake WHEN asked without the token THEN it answers 401 (so the runs above prove the header was sent)", async () => {
    assert.equal((await fetch(`${url}/latest/user-data`)).status, 401);
    assert.equal((await fetch(`${url}/latest/api/token`, { method: "PUT" })).status, 400);
    const token = await (
      await fetch(`${url}/latest/api/token`, {
        method: "PUT",
        headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
      })
    ).text();
    const answer = await fetch(`${url}/latest/user-data`, {
      headers: { "X-aws-ec2-metadata-token": token },
    });
    assert.equal(answer.status, 200);
  });

  it("GIVEN an instance launched without user data WHEN it runs THEN no userdata is written, and the keys still are", async () => {
    imds.userData = undefined;
    const run = await runMetadata(tree, NITRO, url);
    assert.equal(run.config("userdata"), undefined);
    assert.equal(run.config("ssh/authorized_keys"), `${KEYS[0]}${KEYS[1]}\n`);
    assert.match(run.stdout, /metadata: no configuration data/);
  });

  for (const [kind, dmi, provider] of [
    ["QEMU", QEMU, "qemu"],
    ["Xen (not EC2)", OTHER_XEN, "unknown"],
  ] as const)
    it(`GIVEN a ${kind} DMI WHEN it runs THEN it never touches the network and does not wait`, async () => {
      const run = await runMetadata(tree, dmi, url);
      assert.equal(run.config("provider"), `${provider}\n`);
      assert.deepEqual(imds.requests, []);
      assert.equal(run.config("userdata"), undefined);
      assert.equal(run.config("ssh/authorized_keys"), undefined);
      assert.ok(run.seconds < 2, `${run.seconds} s`);
    });

  it("GIVEN EC2 but no metadata service WHEN it runs THEN it says so after three quick tries", async () => {
    await imds.stop();
    const run = await runMetadata(tree, NITRO, url);
    imds = new FakeImds(); // afterEach stops a server again
    await imds.start();
    assert.equal(run.config("provider"), "aws\n");
    assert.match(
      run.stdout,
      /EC2, but no IMDSv2 token from http:\/\/127\.0\.0\.1:\d+ \(is the network up\?/,
    );
    assert.equal(run.config("userdata"), undefined);
    assert.ok(run.seconds < 10, `${run.seconds} s`);
  });
});

const GCE = {
  sys_vendor: "Google",
  product_name: "Google Compute Engine",
  board_vendor: "Google",
  bios_vendor: "Google",
  bios_version: "Google",
  product_serial: "GoogleCloud-5E3B2A1C0D9F8E7A6B5C4D3E2F1A0B9C",
  product_uuid: "5e3b2a1c-0d9f-8e7a-6b5c-4d3e2f1a0b9c",
};
/** A machine whose product name is missing (cloud-init's LP: #1674861): the serial says GCE. */
const GCE_SERIAL_ONLY = {
  sys_vendor: "",
  product_name: "",
  product_serial: "GoogleCloud-5E3B2A1C0D9F8E7A6B5C4D3E2F1A0B9C",
};
const GCE_USER_DATA = "#!/bin/sh\necho user data from GCE\n";
const GCE_HOSTNAME = "hello.europe-west1-b.c.oskit-test.internal";
const INSTANCE_KEYS = [
  "alice:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeAlice alice@laptop",
  "", // blank lines and lines that are not USER:KEY are skipped
  "not a key",
  'bob:ecdsa-sha2-nistp256 AAAAE2VjZHNhFakeBob google-ssh {"userName":"bob@example.com","expireOn":"2999-01-01T00:00:00+0000"}',
  'carol:ssh-rsa AAAAB3NzaC1yc2EFakeCarol google-ssh {"userName":"carol@example.com","expireOn":"2020-01-01T00:00:00+0000"}',
  'dave:ssh-rsa AAAAB3NzaC1yc2EFakeDave google-ssh {"userName":"dave@example.com","expireOn":"soon"}',
].join("\r\n");
const PROJECT_KEYS = "ops:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeOps ops@example.com\n";
/** What the keys above become: the user prefix gone, the expired and unreadable ones dropped. */
const GCE_AUTHORIZED_KEYS = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeAlice alice@laptop",
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhFakeBob google-ssh {"userName":"bob@example.com","expireOn":"2999-01-01T00:00:00+0000"}',
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeOps ops@example.com",
  "",
].join("\n");

interface GceRequest {
  readonly method: string;
  readonly url: string;
  readonly flavor: string | undefined;
}

/**
 * GCE's metadata server as strict as the real one: 403 without `Metadata-Flavor: Google`, the
 * header in every answer (unless `flavor` is turned off, as a server that is not GCE's would).
 */
class FakeGceMetadata {
  readonly requests: GceRequest[] = [];
  readonly attributes: Record<string, string | undefined> = {
    "instance/attributes/user-data": GCE_USER_DATA,
    "instance/attributes/ssh-keys": INSTANCE_KEYS,
    "project/attributes/ssh-keys": PROJECT_KEYS,
    "instance/hostname": GCE_HOSTNAME,
  };
  /** Whether answers carry `Metadata-Flavor: Google`. */
  flavor = true;
  /** Paths answered without it all the same. */
  readonly withoutFlavor = new Set<string>();
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const prefix = "/computeMetadata/v1/";
      const path = req.url?.startsWith(prefix) ? req.url.slice(prefix.length) : undefined;
      const flavor = req.headers["metadata-flavor"];
      const request = {
        method: req.method ?? "",
        url: req.url ?? "",
        flavor: Array.isArray(flavor) ? flavor[0] : flavor,
      };
      this.requests.push(request);
      const answer = (status: number, body = "") => {
        res.writeHead(status, {
          "Content-Type": "application/text",
          ...(this.flavor &&
            !this.withoutFlavor.has(path ?? "") && { "Metadata-Flavor": "Google" }),
        });
        res.end(body);
      };
      if (request.flavor !== "Google") return answer(403, "Missing Metadata-Flavor:Google header.");
      if (request.method !== "GET") return answer(405);
      const body = path === undefined ? undefined : this.attributes[path];
      return body === undefined ? answer(404) : answer(200, body);
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("pkg/metadata on GCE, in a chroot of the package against a fake metadata server", function () {
  this.timeout(180000);
  let tree: string;
  let server: FakeGceMetadata;
  let url: string;
  const listing = () =>
    spawnSync("ls", ["-A", join(tree, "run", "config")], { encoding: "utf8" }).stdout.split("\n");

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // chroot and unshare need root
    mkdirSync(TMP, { recursive: true });
    tree = mkdtempSync(join(TMP, "metadata-gce-"));
    await unpackMetadata(tree);
  });
  after(() => tree && rmSync(tree, { recursive: true, force: true }));
  beforeEach(async () => {
    server = new FakeGceMetadata();
    url = await server.start();
  });
  afterEach(() => server.stop());

  for (const [kind, dmi] of [
    ["Google Compute Engine", GCE],
    ["serial-only (no product name)", GCE_SERIAL_ONLY],
  ] as const)
    it(`GIVEN a ${kind} DMI WHEN it runs THEN every GET carries Metadata-Flavor: Google, and user data, the instance's and project's keys and the hostname are written`, async () => {
      const run = await runMetadata(tree, dmi, url);

      assert.equal(run.config("provider"), "gcp\n");
      assert.deepEqual(
        server.requests.map((r) => [r.method, r.url, r.flavor]),
        [
          "instance/attributes/user-data",
          "instance/attributes/ssh-keys",
          "instance/attributes/block-project-ssh-keys",
          "project/attributes/ssh-keys",
          "instance/hostname",
        ].map((path) => ["GET", `/computeMetadata/v1/${path}`, "Google"]),
      );
      assert.equal(run.config("userdata"), GCE_USER_DATA);
      assert.equal(run.config("ssh/authorized_keys"), GCE_AUTHORIZED_KEYS);
      assert.equal(run.config("hostname"), GCE_HOSTNAME);
      assert.match(run.stdout, /metadata: platform gcp/);
      assert.match(run.stdout, /configuration from GCE user data in \/run\/config\/userdata/);
      assert.match(run.stdout, /SSH keys from GCE in \/run\/config\/ssh\/authorized_keys/);
      assert.deepEqual(
        listing(),
        ["hostname", "provider", "ssh", "userdata", ""],
        "no temporary files left",
      );
    });

  it("GIVEN the fake WHEN asked without Metadata-Flavor: Google THEN it answers 403 (so the runs above prove the header was sent)", async () => {
    assert.equal((await fetch(`${url}/computeMetadata/v1/instance/hostname`)).status, 403);
    const answer = await fetch(`${url}/computeMetadata/v1/instance/hostname`, {
      headers: { "Metadata-Flavor": "Google" },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("metadata-flavor"), "Google");
  });

  it("GIVEN block-project-ssh-keys=true and no user data WHEN it runs THEN only the instance's keys are written, and no userdata", async () => {
    server.attributes["instance/attributes/block-project-ssh-keys"] = "true";
    server.attributes["instance/attributes/user-data"] = undefined;
    const run = await runMetadata(tree, GCE, url);
    assert.ok(
      !server.requests.some((r) => r.url.includes("project/attributes")),
      "the project's keys are not asked for",
    );
    assert.equal(run.config("userdata"), undefined);
    assert.equal(
      run.config("ssh/authorized_keys"),
      GCE_AUTHORIZED_KEYS.replace(/ssh-ed25519 [^\n]*ops@example.com\n/, ""),
    );
    assert.equal(run.config("hostname"), GCE_HOSTNAME);
    assert.match(run.stdout, /metadata: no configuration data/);
  });

  it("GIVEN a server that answers without the Metadata-Flavor: Google response header WHEN it runs THEN nothing from it is written", async () => {
    server.flavor = false;
    const run = await runMetadata(tree, GCE, url);
    assert.equal(run.config("provider"), "gcp\n");
    assert.equal(server.requests.length, 1, "it stops at the first answer");
    assert.equal(run.config("userdata"), undefined);
    assert.equal(run.config("ssh/authorized_keys"), undefined);
    assert.equal(run.config("hostname"), undefined);
    assert.match(
      run.stdout,
      /answered instance\/attributes\/user-data without Metadata-Flavor: Google: not GCE's metadata server, nothing taken from it/,
    );
    assert.match(run.stdout, /metadata: no configuration data/);
    assert.deepEqual(listing(), ["provider", ""], "no temporary files left");
  });

  it("GIVEN a server whose answer for the hostname lacks the header WHEN it runs THEN what the earlier answers gave is taken back too", async () => {
    server.withoutFlavor.add("instance/hostname");
    const run = await runMetadata(tree, GCE, url);
    assert.equal(server.requests.length, 5);
    assert.equal(run.config("userdata"), undefined);
    assert.equal(run.config("ssh/authorized_keys"), undefined);
    assert.equal(run.config("hostname"), undefined);
    assert.match(run.stdout, /answered instance\/hostname without Metadata-Flavor: Google/);
    assert.match(run.stdout, /metadata: no configuration data/);
    assert.deepEqual(listing(), ["provider", "ssh", ""], "no temporary files left");
  });

  for (const [kind, dmi, provider] of [
    ["QEMU", QEMU, "qemu"],
    ["EC2 (Nitro)", NITRO, "aws"],
  ] as const)
    it(`GIVEN a ${kind} DMI WHEN it runs THEN GCE's metadata server is never asked`, async () => {
      const run = await runMetadata(tree, dmi, url);
      assert.equal(run.config("provider"), `${provider}\n`);
      assert.ok(
        !server.requests.some((r) => r.url.startsWith("/computeMetadata/")),
        JSON.stringify(server.requests),
      );
      assert.equal(run.config("userdata"), undefined);
      assert.equal(run.config("ssh/authorized_keys"), undefined);
    });

  it("GIVEN GCE but no metadata server WHEN it runs THEN it says so after three quick tries", async () => {
    await server.stop();
    const run = await runMetadata(tree, GCE, url);
    server = new FakeGceMetadata(); // afterEach stops a server again
    await server.start();
    assert.equal(run.config("provider"), "gcp\n");
    assert.match(
      run.stdout,
      /GCE, but no answer from http:\/\/127\.0\.0\.1:\d+ \(is the network up\?/,
    );
    assert.equal(run.config("userdata"), undefined);
    assert.ok(run.seconds < 10, `${run.seconds} s`);
  });
});
