import { strict as assert } from "node:assert";
import { amiName, bootModeOf, registerRequest } from "../../../../provider/aws/register";

describe("AMI registration", () => {
  it("makes any text a valid AMI name: allowed characters, 3 to 128 of them, no colon", () => {
    assert.equal(amiName("web 1.0 (test) [x] a/b-c'd@e_f"), "web 1.0 (test) [x] a/b-c'd@e_f");
    assert.equal(amiName("web:1.0+build#7"), "web-1.0-build-7");
    assert.equal(amiName("a"), "oskit-a");
    assert.equal(amiName(""), "oskit");
    assert.equal(amiName("x".repeat(200)).length, 128);
    for (const name of [amiName("é:ü"), amiName("::"), amiName("名前")])
      assert.match(name, /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/);
  });

  it("boots oskit's UEFI disks with uefi, BIOS disks with legacy-bios, hybrids with uefi-preferred", () => {
    assert.equal(bootModeOf("aws"), "uefi");
    assert.equal(bootModeOf("raw-efi"), "uefi");
    assert.equal(bootModeOf("raw-bios"), "legacy-bios");
    assert.equal(bootModeOf("raw-hybrid"), "uefi-preferred");
    assert.equal(bootModeOf(undefined), undefined);
    assert.equal(bootModeOf("qcow2"), undefined);
  });

  it("registers hvm, ENA, IMDSv2 only, a gp3 root deleted with the instance, the architecture and tags", () => {
    const r = registerRequest({
      name: "web:1",
      snapshotId: "snap-1",
      volumeSize: 2,
      architecture: "arm64",
      bootMode: "uefi",
      tpm: true,
      tags: { "oskit:owner": "p/s/web" },
    });
    assert.equal(r.Name, "web-1");
    assert.equal(r.Architecture, "arm64");
    assert.equal(r.VirtualizationType, "hvm");
    assert.equal(r.EnaSupport, true);
    assert.equal(r.BootMode, "uefi");
    assert.equal(r.ImdsSupport, "v2.0");
    assert.equal(r.TpmSupport, "v2.0");
    assert.equal(r.RootDeviceName, "/dev/xvda");
    assert.deepEqual(r.BlockDeviceMappings, [
      {
        DeviceName: "/dev/xvda",
        Ebs: { SnapshotId: "snap-1", VolumeSize: 2, VolumeType: "gp3", DeleteOnTermination: true },
      },
    ]);
    assert.deepEqual(r.TagSpecifications, [
      { ResourceType: "image", Tags: [{ Key: "oskit:owner", Value: "p/s/web" }] },
    ]);
    const plain = registerRequest({
      name: "web",
      snapshotId: "s",
      volumeSize: 1,
      architecture: "x86_64",
      bootMode: "uefi",
      tags: {},
    });
    assert.equal("TpmSupport" in plain, false);
    assert.throws(
      () =>
        registerRequest({
          name: "web",
          snapshotId: "s",
          volumeSize: 1,
          architecture: "x86_64",
          bootMode: "legacy-bios",
          tpm: true,
          tags: {},
        }),
      /TPM needs UEFI/,
    );
  });
});
