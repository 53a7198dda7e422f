import { strict as assert } from "node:assert";
import YAML from "yaml";
import { OskitError } from "../../../../sdk/errors";
import { exportLinuxkit } from "../../../../sdk/manifest/linuxkit/export";
import { importLinuxkit } from "../../../../sdk/manifest/linuxkit/import";
import { validateManifest } from "../../../../sdk/manifest/validate";
import { linuxkitFixtures } from "../../../support/fixtures";
import { linuxkitSchemaErrors } from "../../../support/linuxkit-schema";

describe("exportLinuxkit", () => {
  it("writes YAML that LinuxKit's schema accepts, for every fixture", () => {
    for (const fixture of linuxkitFixtures()) {
      const { manifest } = importLinuxkit({ text: fixture.text, filename: fixture.name });
      assert.deepEqual(
        linuxkitSchemaErrors(fixture.text === "" ? {} : YAML.parse(fixture.text)),
        [],
        `${fixture.name} itself`,
      );
      assert.deepEqual(
        linuxkitSchemaErrors(YAML.parse(exportLinuxkit(manifest))),
        [],
        fixture.name,
      );
    }
  });

  it("writes LinuxKit's keys and string forms, and leaves LinuxKit's defaults out", () => {
    const yaml = exportLinuxkit(
      validateManifest({
        kernel: { image: "k:1", binary: "kernel", tar: "kernel.tar" },
        services: [
          {
            name: "a",
            image: "a:1",
            capabilitiesAdd: ["CAP_NET_ADMIN"],
            bindsAdd: ["/a:/a"],
            rlimits: [{ type: "nofile", soft: 1, hard: "unlimited" }],
            mounts: [
              {
                type: "bind",
                source: "/x",
                destination: "/y",
                uidMappings: [{ hostID: 1, containerID: 0, size: 1 }],
              },
            ],
          },
        ],
        files: [
          { path: "etc/motd", contents: "hi\n" },
          { path: "/etc/x", contents: "1", mode: 0o644 },
        ],
      }),
    );
    assert.equal(
      yaml,
      [
        "kernel:",
        "  image: k:1",
        "services:",
        "  - name: a",
        "    image: a:1",
        "    capabilities.add: [CAP_NET_ADMIN]",
        "    mounts:",
        "      - destination: /y",
        "        type: bind",
        "        source: /x",
        "        uidmappings:",
        "          - hostID: 1",
        "            containerID: 0",
        "            size: 1",
        "    binds.add: [/a:/a]",
        '    rlimits: ["nofile,1,unlimited"]',
        "files:",
        "  - path: /etc/motd",
        "    contents: |",
        "      hi",
        "  - path: /etc/x",
        '    contents: "1"',
        '    mode: "0644"',
        "",
      ].join("\n"),
    );
  });

  it("refuses input placeholders without values, naming each, and substitutes given values", () => {
    const manifest = validateManifest({
      files: [
        { path: "/etc/token", contents: { $input: "apiToken" } },
        { path: "/etc/key", contents: { $input: "sshKey" } },
      ],
    });
    assert.throws(
      () => exportLinuxkit(manifest, { inputs: { sshKey: "ssh-ed25519 AAAA" } }),
      (e: unknown) =>
        e instanceof OskitError &&
        e.code === "EXPORT" &&
        e.message.includes('files[/etc/token].contents: the input "apiToken"') &&
        !e.message.includes("sshKey"),
    );
    const yaml = exportLinuxkit(manifest, {
      inputs: { apiToken: "t0ken", sshKey: "ssh-ed25519 AAAA" },
    });
    assert.deepEqual(YAML.parse(yaml), {
      files: [
        { path: "/etc/token", contents: "t0ken" },
        { path: "/etc/key", contents: "ssh-ed25519 AAAA" },
      ],
    });
  });
});
