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

  it("quotes strings LinuxKit's Go YAML reader would take for numbers, and escapes line separators", () => {
    const values = [
      "1_000",
      "0b101",
      "0_7",
      "0o17",
      "yes",
      "off",
      "1:20",
      "0644",
      "x\u2028y\u0085z\u2029",
    ];
    const manifest = validateManifest({
      files: values.map((contents, i) => ({ path: `/f${i}`, contents })),
    });
    const yaml = exportLinuxkit(manifest);
    for (const value of values.slice(0, -1))
      assert.ok(yaml.includes(`contents: "${value}"`), value);
    assert.ok(yaml.includes('contents: "x\\Ly\\Nz\\P"'), yaml);
    assert.ok(!/[\u0085\u2028\u2029]/.test(yaml));
    assert.deepEqual(importLinuxkit({ text: yaml }).manifest, manifest);
  });
});
