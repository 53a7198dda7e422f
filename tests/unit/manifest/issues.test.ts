import { strict as assert } from "node:assert";
import { describeValue, renderPath, suggest } from "../../../sdk/manifest/issues";
import { linuxkitNamer } from "../../../sdk/manifest/linuxkit/keys";

describe("problem paths and wording", () => {
  const raw = {
    services: [
      {
        name: "web",
        capabilitiesAdd: ["X"],
        sysctl: { "net.ipv4.ip_forward": 1 },
        mounts: [{ uidMappings: [] }],
      },
    ],
    files: [{ path: "/etc/motd" }, { path: 5 }],
    init: ["a"],
  };

  it("names containers and files by name and path, other items by index", () => {
    assert.equal(
      renderPath(["services", 0, "capabilitiesAdd", 0], raw),
      "services[web].capabilitiesAdd[0]",
    );
    assert.equal(renderPath(["files", 0, "mode"], raw), "files[/etc/motd].mode");
    assert.equal(renderPath(["files", 1, "path"], raw), "files[1].path");
    assert.equal(renderPath(["init", 0], raw), "init[0]");
    assert.equal(
      renderPath(["services", 0, "sysctl", "net.ipv4.ip_forward"], raw),
      "services[web].sysctl[net.ipv4.ip_forward]",
    );
  });

  it("renders oskit's field names as LinuxKit's for YAML", () => {
    assert.equal(
      renderPath(["services", 0, "capabilitiesAdd", 0], raw, linuxkitNamer),
      "services[web].capabilities.add[0]",
    );
    assert.equal(
      renderPath(["services", 0, "mounts", 0, "uidMappings"], raw, linuxkitNamer),
      "services[web].mounts[0].uidmappings",
    );
    assert.equal(
      renderPath(["services", 0, "uidMappings"], raw, linuxkitNamer),
      "services[web].uidMappings",
    );
  });

  it("suggests only close matches", () => {
    assert.equal(suggest("capabilites", ["capabilities", "cwd"]), "capabilities");
    assert.equal(suggest("CAP_NET_ADMN", ["CAP_NET_ADMIN", "CAP_NET_RAW"]), "CAP_NET_ADMIN");
    assert.equal(suggest("volumes", ["kernel", "init"]), undefined);
  });

  it("describes values briefly", () => {
    assert.deepEqual(
      [undefined, null, [1], { a: 1 }, "x".repeat(80), 42, true].map(describeValue),
      ["nothing", "null", "a list", "an object", `"${"x".repeat(57)}..."`, "42", "true"],
    );
  });
});
