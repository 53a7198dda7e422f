// The Azure provisioning path in a real guest under QEMU (TCG): Azure's DMI (SMBIOS), a UDF
// provisioning DVD holding ovf-env.xml made with genisoimage, and the strict WireServer stand-in
// reached at 168.63.129.16:80 through QEMU's user network (a guestfwd whose command pipes each
// connection to the stand-in on 127.0.0.1).
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "../../sdk/build/build";
import { loadDefinitions } from "../../sdk/cli/load";
import { qemuArgs } from "../../sdk/run/qemu";
import { detectTarget } from "../../sdk/run/target";
import { ensurePackages, OSKIT_PACKAGES } from "../support/packages";
import { FIXTURES, TMP } from "../support/paths";
import { FakeWireServer, ovfEnvXml } from "../support/wireserver";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeAzureE2e azureuser@laptop";

describe("an Azure VM under QEMU (TCG): provisioning DVD and report ready", function () {
  this.timeout(600000);
  const nonce = randomBytes(6).toString("hex");
  const out = join(TMP, "e2e-azure");
  const wire = new FakeWireServer();
  let qemu: ChildProcess | undefined;
  let console = "";
  let seconds = 0;

  before(async () => {
    const store = await ensurePackages([
      ...OSKIT_PACKAGES.filter((p) => /\/(kernel|init|dhcpcd|metadata)$/.test(p)),
      join(FIXTURES, "e2e", "probe"),
    ]);
    const { manifest } = await loadDefinitions([join(FIXTURES, "e2e", "azure.ts")]);
    rmSync(out, { recursive: true, force: true });
    await build(manifest, {
      store,
      formats: ["kernel+initrd"],
      outDir: out,
      name: "azure",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(FIXTURES, "e2e"),
    });
    // The provisioning DVD: UDF (genisoimage -udf writes a UDF and ISO 9660 bridge, as Azure's is UDF).
    const dvd = join(out, "dvd");
    mkdirSync(dvd, { recursive: true });
    writeFileSync(
      join(dvd, "ovf-env.xml"),
      ovfEnvXml({
        hostName: "oskit-azure-e2e",
        customData: Buffer.from(nonce).toString("base64"),
        keys: [{ value: KEY }],
        password: "not-to-be-kept",
      }),
    );
    const iso = spawnSync(
      "genisoimage",
      ["-quiet", "-udf", "-V", "rd_rdfe_stable", "-o", join(out, "ovf.iso"), dvd],
      {
        encoding: "utf8",
      },
    );
    assert.equal(iso.status, 0, `genisoimage (apt-get install genisoimage): ${iso.stderr}`);

    const port = (await wire.start(), wire.port);
    // QEMU runs the command for every connection the guest opens to 168.63.129.16:80; it pipes
    // that connection to the stand-in (commas doubled: QEMU's option syntax).
    const pipe = `const s=require("net").connect({port:${port},host:"127.0.0.1"});process.stdin.pipe(s).pipe(process.stdout);s.on("close",()=>process.exit(0))`;
    const forward = `${process.execPath} -e '${pipe}'`.replaceAll(",", ",,");
    const state = join(out, "state");
    mkdirSync(state, { recursive: true });
    const args = qemuArgs(detectTarget(join(out, "azure")), { path: join(out, "azure") }, state);
    const netdev = args.indexOf("-netdev") + 1;
    // Azure's WireServer address is in the guest network, as QEMU requires of a guestfwd.
    args[netdev] = `user,id=net0,net=168.63.129.0/24,guestfwd=tcp:168.63.129.16:80-cmd:${forward}`;
    args.push(
      "-smbios",
      "type=1,manufacturer=Microsoft Corporation,product=Virtual Machine",
      "-smbios",
      "type=3,manufacturer=Microsoft Corporation,asset=7783-7084-3265-9085-8269-3286-77",
      "-drive",
      `file=${join(out, "ovf.iso")},media=cdrom,readonly=on,if=none,id=ovf`,
      "-device",
      "scsi-cd,bus=scsi0.0,drive=ovf",
    );
    const log = join(state, "console.log");
    const started = Date.now();
    qemu = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    qemu.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = started + 240000;
    const read = () => {
      try {
        return readFileSync(log, "utf8");
      } catch {
        return "";
      }
    };
    while (!/OSKIT-AZURE keys=/.test(read())) {
      if (qemu.exitCode !== null) throw new Error(`QEMU exited: ${stderr}\n${read().slice(-3000)}`);
      if (Date.now() > deadline)
        throw new Error(`no OSKIT-AZURE lines in 240 s:\n${read().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    seconds = (Date.now() - started) / 1000;
    console = read();
  });
  after(async () => {
    qemu?.kill("SIGKILL");
    await wire.stop();
  });

  const shown = (key: string) =>
    new RegExp(`^OSKIT-AZURE ${key}=(.*?)\\r?$`, "m").exec(console)?.[1];

  it("reads ovf-env.xml from the UDF DVD: the custom data, host name and key land in /run/config", () => {
    assert.equal(shown("provider"), "azure", console.slice(-3000));
    assert.equal(shown("userdata"), nonce);
    assert.equal(shown("hostname"), "oskit-azure-e2e");
    assert.equal(shown("keys"), "1");
    assert.match(console, /metadata: configuration from Azure custom data \(\/dev\/sr\d \(udf\)\)/);
  });

  it("reports Ready to the WireServer at 168.63.129.16 for the goal state it served", () => {
    assert.deepEqual(wire.refused, []);
    assert.deepEqual(
      wire.requests.map((r) => `${r.method} ${r.url} ${r.status}`),
      ["GET /machine/?comp=goalstate 200", "POST /machine?comp=health 200"],
    );
    assert.deepEqual(wire.reports, [{ ...wire.goal, state: "Ready" }]);
    assert.match(console, /metadata: reported ready to Azure/);
    assert.ok(seconds < 120, `${seconds} s from QEMU's start to the service's lines`);
  });
});
