// pkg/metadata's Azure provider: the package as built, run in a chroot of its tree with an Azure
// VM's DMI files, the provisioning DVD's ovf-env.xml handed over as a directory (this host cannot
// mount UDF; tests/e2e/azure.test.ts boots the real DVD) and a strict WireServer on 127.0.0.1.
import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runMetadata, unpackMetadata } from "../../support/metadata";
import { TMP } from "../../support/paths";
import { FakeWireServer, ovfEnvXml, type OvfEnvOptions } from "../../support/wireserver";

const AZURE = {
  sys_vendor: "Microsoft Corporation",
  product_name: "Virtual Machine",
  bios_vendor: "Microsoft Corporation",
  chassis_vendor: "Microsoft Corporation",
  chassis_asset_tag: "7783-7084-3265-9085-8269-3286-77",
  product_uuid: "2a1b0c9d-8e7f-4a6b-9c5d-0e1f2a3b4c5d",
};
/** Hyper-V on premises: the same vendor and product, not Azure's asset tag. */
const HYPER_V = { ...AZURE, chassis_asset_tag: "None" };

const USER_DATA = "#!/bin/sh\necho user data from Azure\n".repeat(8); // wraps over lines in base64
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeAzure azureuser@laptop";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQFakeRsa second";
const FULL: OvfEnvOptions = {
  hostName: "oskit-vm-7",
  customData: Buffer.from(USER_DATA).toString("base64"),
  keys: [
    { fingerprint: "0123456789ABCDEF", value: KEY },
    { value: RSA },
    { fingerprint: "FEDCBA9876543210" },
  ],
  password: "not-to-be-kept",
};

describe("pkg/metadata on Azure, in a chroot of the package against a strict WireServer", function () {
  this.timeout(180000);
  let tree: string;
  let wire: FakeWireServer;
  let url: string;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // chroot and unshare need root
    mkdirSync(TMP, { recursive: true });
    tree = mkdtempSync(join(TMP, "metadata-azure-"));
    await unpackMetadata(tree);
  });
  after(() => tree && rmSync(tree, { recursive: true, force: true }));
  beforeEach(async () => {
    wire = new FakeWireServer();
    url = await wire.start();
    rmSync(join(tree, "ovf"), { recursive: true, force: true });
  });
  afterEach(() => wire.stop());

  /** Runs the script with this ovf-env.xml on its "DVD" (none when undefined). */
  const run = (ovf: string | undefined, dmi: Record<string, string> = AZURE) => {
    mkdirSync(join(tree, "ovf"), { recursive: true });
    if (ovf !== undefined) writeFileSync(join(tree, "ovf", "ovf-env.xml"), ovf);
    return runMetadata(tree, dmi, {
      OSKIT_METADATA_WIRESERVER: url,
      OSKIT_METADATA_OVF_DIR: "/ovf",
    });
  };
  const exchange = () => wire.requests.map((r) => `${r.method} ${r.url} ${r.status}`);

  it("GIVEN a generalized image's VM with custom data, a host name and keys WHEN it runs THEN it writes them and reports Ready for the goal state served", async () => {
    const run_ = await run(ovfEnvXml(FULL));

    assert.deepEqual(wire.refused, []);
    assert.deepEqual(exchange(), [
      "GET /machine/?comp=goalstate 200",
      "POST /machine?comp=health 200",
    ]);
    assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
    assert.equal(run_.config("provider"), "azure\n");
    assert.equal(run_.config("userdata"), USER_DATA);
    assert.equal(run_.config("hostname"), "oskit-vm-7\n");
    assert.equal(run_.config("ssh/authorized_keys"), `${KEY}\n${RSA}\n`);
    assert.match(run_.stdout, /metadata: platform azure \(Microsoft Corporation Virtual Machine\)/);
    assert.match(run_.stdout, /1 SSH key\(s\) given only by fingerprint are not taken/);
    assert.match(
      run_.stdout,
      /configuration from Azure custom data \(\/ovf\) in \/run\/config\/userdata/,
    );
    assert.match(run_.stdout, /metadata: reported ready to Azure/);
    assert.deepEqual(
      run_.listing(),
      ["hostname", "provider", "ssh", "userdata"],
      "no temporary files left",
    );
    assert.ok(
      !JSON.stringify(run_.listing()).includes("ovf"),
      "the ovf-env.xml (a password) is not kept",
    );
  });

  it("GIVEN a VM created without custom data WHEN it runs THEN no userdata is written, and it still reports Ready", async () => {
    const run_ = await run(ovfEnvXml({ hostName: "plain" }));
    assert.deepEqual(wire.refused, []);
    assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
    assert.equal(run_.config("userdata"), undefined);
    assert.equal(run_.config("ssh/authorized_keys"), undefined);
    assert.equal(run_.config("hostname"), "plain\n");
    assert.match(run_.stdout, /metadata: no configuration data/);
  });

  it("GIVEN a WireServer whose goal state is not there yet (503, 410, 503) WHEN it runs THEN it asks again each second and reports once it is", async () => {
    wire.notYet = [503, 410, 503];
    const run_ = await run(ovfEnvXml(FULL));
    assert.deepEqual(wire.refused, []);
    assert.deepEqual(exchange(), [
      "GET /machine/?comp=goalstate 503",
      "GET /machine/?comp=goalstate 410",
      "GET /machine/?comp=goalstate 503",
      "GET /machine/?comp=goalstate 200",
      "POST /machine?comp=health 200",
    ]);
    assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
    assert.equal(run_.config("userdata"), USER_DATA);
    assert.ok(run_.seconds >= 3 && run_.seconds < 10, `${run_.seconds} s`);
  });

  const WELL_FORMED = "not well-formed XML";
  const NO_HOST = "no HostName, or not one of 1 to 64 letters";
  for (const [kind, ovf, reason] of [
    ["truncated", ovfEnvXml(FULL).slice(0, 700), WELL_FORMED],
    ["badly nested", ovfEnvXml(FULL).replace("</ns1:HostName>", "</ns1:UserName>"), WELL_FORMED],
    [
      "CustomData that is not base64",
      ovfEnvXml({ ...FULL, customData: "not base64!" }),
      "CustomData is not base64",
    ],
    [
      "two HostNames",
      ovfEnvXml(FULL).replace("<ns1:UserName>", "<ns1:HostName>other</ns1:HostName><ns1:UserName>"),
      NO_HOST,
    ],
    ["no HostName", ovfEnvXml(FULL).replace(/<ns1:HostName>[^<]*<\/ns1:HostName>/, ""), NO_HOST],
    [
      "another document",
      '<?xml version="1.0"?><Environment><Other/></Environment>',
      "no Environment/ProvisioningSection/LinuxProvisioningConfigurationSet",
    ],
  ] as const)
    it(`GIVEN an ovf-env.xml that is ${kind} WHEN it runs THEN nothing is written and it reports NotReady, ProvisioningFailed (as Azure's agent and cloud-init do)`, async () => {
      const run_ = await run(ovf);
      assert.deepEqual(wire.refused, []);
      assert.equal(wire.reports.length, 1);
      const [report] = wire.reports;
      assert.deepEqual(
        { ...report, description: undefined },
        {
          ...wire.goal,
          state: "NotReady",
          subStatus: "ProvisioningFailed",
          description: undefined,
        },
      );
      assert.ok(
        report!.description!.startsWith(`oskit metadata: ovf-env.xml from /ovf: ${reason}`),
        report!.description,
      );
      assert.deepEqual(run_.listing(), ["provider"]);
      assert.ok(run_.stdout.includes(`Azure ovf-env.xml from /ovf: ${reason}`), run_.stdout);
      assert.match(run_.stdout, /nothing taken from it/);
      assert.match(run_.stdout, /metadata: no configuration data/);
    });

  for (const prefix of ["wa", ""])
    it(`GIVEN an ovf-env.xml whose Azure namespace is ${prefix === "" ? "the default one (no prefix)" : `prefixed ${prefix}:`} WHEN it runs THEN it is read by local names all the same`, async () => {
      const run_ = await run(ovfEnvXml({ ...FULL, prefix }));
      assert.deepEqual(wire.refused, []);
      assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
      assert.equal(run_.config("userdata"), USER_DATA);
      assert.equal(run_.config("hostname"), "oskit-vm-7\n");
      assert.equal(run_.config("ssh/authorized_keys"), `${KEY}\n${RSA}\n`);
    });

  it("GIVEN no provisioning DVD (a specialized image) WHEN it runs THEN it reports Ready with nothing taken", async () => {
    const run_ = await run(undefined);
    assert.deepEqual(wire.refused, []);
    assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
    assert.deepEqual(run_.listing(), ["provider"]);
    assert.match(run_.stdout, /no provisioning DVD with ovf-env\.xml/);
  });

  it("GIVEN Hyper-V on premises (Microsoft's DMI without Azure's asset tag) WHEN it runs THEN it is not Azure and the WireServer is never asked", async () => {
    const run_ = await run(ovfEnvXml(FULL), HYPER_V);
    assert.equal(run_.config("provider"), "unknown\n");
    assert.deepEqual(wire.requests, []);
    assert.equal(run_.config("userdata"), undefined);
    assert.ok(run_.seconds < 2, `${run_.seconds} s`);
  });

  it("GIVEN the fake WHEN asked without x-ms-version, or with a report for another goal state THEN it refuses (so the runs above prove the exchange was right)", async () => {
    assert.equal((await fetch(`${url}/machine/?comp=goalstate`)).status, 400);
    const goal = await fetch(`${url}/machine/?comp=goalstate`, {
      headers: { "x-ms-version": "2012-11-30" },
    });
    assert.equal(goal.status, 200);
    const wrong = `<Health><GoalStateIncarnation>1</GoalStateIncarnation><Container><ContainerId>${wire.goal.containerId}</ContainerId><RoleInstanceList><Role><InstanceId>${wire.goal.instanceId}</InstanceId><Health><State>Ready</State></Health></Role></RoleInstanceList></Container></Health>`;
    const post = (body: string, type = "text/xml;charset=utf-8") =>
      fetch(`${url}/machine?comp=health`, {
        method: "POST",
        headers: { "x-ms-version": "2012-11-30", "Content-Type": type },
        body,
      });
    assert.equal((await post(wrong)).status, 400, "an old incarnation");
    const right = wrong.replace(">1<", `>${wire.goal.incarnation}<`);
    assert.equal((await post(right, "application/x-www-form-urlencoded")).status, 400, "not XML");
    assert.equal((await post(right.slice(0, -3))).status, 400, "not well formed");
    assert.equal((await post(right)).status, 200);
    assert.equal(wire.refused.length, 4);
  });

  it("GIVEN Azure but no WireServer WHEN it runs THEN it writes what the DVD gives and says clearly that it could not report ready, after five quick tries", async () => {
    await wire.stop();
    const run_ = await run(ovfEnvXml(FULL));
    wire = new FakeWireServer(); // afterEach stops a server again
    await wire.start();
    assert.equal(run_.config("userdata"), USER_DATA);
    assert.match(
      run_.stdout,
      /metadata: Azure: could not report Ready to the WireServer at http:\/\/127\.0\.0\.1:\d+ after 5 tries \(last: the goal state: wget: can't connect/,
    );
    assert.ok(run_.seconds < 15, `${run_.seconds} s`);
  });
});
