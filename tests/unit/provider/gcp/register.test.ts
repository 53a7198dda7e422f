import { strict as assert } from "node:assert";
import {
  digestLabel,
  gceName,
  imageBody,
  imageName,
  LABEL_VALUE,
  labelValue,
  NAME,
  ownerLabel,
  rawDiskSource,
} from "../../../../provider/gcp/register";

const digest = `sha256:${"ab12".repeat(16)}`;

describe("GCE names and labels", () => {
  it("GIVEN any text WHEN made a GCE name THEN it matches [a-z]([-a-z0-9]{0,61}[a-z0-9])?", () => {
    for (const text of [
      "Hello World",
      "9lives",
      "--x--",
      "",
      "ÄÖÜ",
      "a".repeat(200),
      "web_1.img",
      "x-",
    ])
      assert.match(gceName(text), NAME, text);
    assert.equal(gceName("My Web_Server.v2"), "my-web-server-v2");
    assert.equal(gceName("9lives"), "i-9lives");
  });

  it("GIVEN a long name WHEN the image is named THEN the name, 12 digest digits and 6 owner digits fit in 63", () => {
    const name = imageName("A".repeat(100), digest, "proj/dev/web");
    assert.match(name, NAME);
    assert.ok(name.length <= 63);
    assert.match(name, /-ab12ab12ab12-[0-9a-f]{6}$/);
    assert.notEqual(
      imageName("web", digest, "proj/dev/web"),
      imageName("web", digest, "proj/prod/web"),
    );
  });

  it("GIVEN a digest and an owner WHEN labelled THEN the values are ≤ 63 lowercase characters and owners that lowercase alike differ", () => {
    assert.equal(digestLabel(digest), "ab12".repeat(10));
    const a = ownerLabel("Proj/Dev/Web");
    const b = ownerLabel("proj/dev/web");
    assert.match(a, LABEL_VALUE);
    assert.notEqual(a, b);
    assert.match(ownerLabel(`p/${"s".repeat(300)}/r`), LABEL_VALUE);
    assert.equal(labelValue("Team/OS"), "team-os");
  });

  it("GIVEN registration options WHEN the insert body is made THEN it has rawDisk, the features, labels and the full digest in the description", () => {
    const body = imageBody({
      project: "p",
      name: "web-ab12ab12ab12-000000",
      bucket: "b",
      object: "oskit/x.tar.gz",
      digest,
      owner: "proj/dev/web",
      format: "gce",
      architecture: "ARM64",
      family: "web",
      storageLocations: ["eu"],
      labels: { team: "os" },
    });
    assert.deepEqual(body.rawDisk, { source: "https://storage.googleapis.com/b/oskit/x.tar.gz" });
    assert.deepEqual(body.guestOsFeatures, [
      { type: "UEFI_COMPATIBLE" },
      { type: "VIRTIO_SCSI_MULTIQUEUE" },
      { type: "GVNIC" },
    ]);
    assert.equal(body.architecture, "ARM64");
    assert.equal(body.family, "web");
    assert.deepEqual(body.storageLocations, ["eu"]);
    assert.match(String(body.description), new RegExp(digest));
    const labels = body.labels as Record<string, string>;
    assert.equal(labels.team, "os");
    assert.equal(labels["oskit-digest"], digestLabel(digest));
    assert.equal(labels["oskit-owner"], ownerLabel("proj/dev/web"));
    for (const value of Object.values(labels)) assert.match(value, LABEL_VALUE);
    assert.equal(rawDiskSource("b", "a b/c"), "https://storage.googleapis.com/b/a%20b/c");
  });
});
