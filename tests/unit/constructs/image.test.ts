import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as oskit from "../../../sdk/index";
import { CONSTRUCT } from "../../../sdk/constructs/brand";
import { FIXTURES } from "../../support/paths";
import { problemLines as checkedProblems } from "../../support/problems";

function hello(overrides: Partial<oskit.ImageProps> = {}): oskit.Image {
  return new oskit.Image({
    kernel: new oskit.Kernel({ image: "linuxkit/kernel:6.6.71", cmdline: "console=ttyS0" }),
    init: ["linuxkit/init:v1.2.0"],
    services: [
      new oskit.Service({
        name: "web",
        image: "nginx:1.27",
        capabilities: ["CAP_NET_BIND_SERVICE"],
      }),
    ],
    files: [oskit.File.text("/etc/motd", "hi\n", { mode: 0o644 })],
    ...overrides,
  });
}

function problemsOf(image: oskit.Image): string[] {
  return checkedProblems(() => image.synth());
}

describe("Image", () => {
  it("synthesizes the plain, normalized manifest", () => {
    assert.deepEqual(hello().synth(), {
      kernel: {
        image: "linuxkit/kernel:6.6.71",
        cmdline: "console=ttyS0",
        binary: "kernel",
        tar: "kernel.tar",
      },
      init: ["linuxkit/init:v1.2.0"],
      services: [{ name: "web", image: "nginx:1.27", capabilities: ["CAP_NET_BIND_SERVICE"] }],
      files: [{ path: "/etc/motd", contents: "hi\n", mode: "0644" }],
    });
  });

  it("gives the same digest for the same system, another for another", () => {
    assert.equal(hello().digest(), hello().digest());
    assert.match(hello().digest(), /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(hello().digest(), hello({ init: ["linuxkit/init:v1.3.0"] }).digest());
  });

  it("collects every problem of every construct into one error", () => {
    assert.deepEqual(
      problemsOf(
        hello({
          onboot: [new oskit.Service({ name: "web", image: "busybox" })],
          files: [
            oskit.File.text("/etc/motd", "x", { mode: "0999" }),
            oskit.File.symlink("../out", "/x"),
          ],
        }),
      ),
      [
        'files[/etc/motd].mode: mode "0999" is not octal; expected e.g. "0644" or "0755"',
        'files[../out].path: invalid path "../out": contains ".."; paths stay inside the image',
        'services[web].name: duplicate container name "web" (also in onboot)',
      ],
    );
  });

  it("refuses plain objects where constructs belong, but takes constructs from another copy of oskit", () => {
    const plain = { name: "web", image: "nginx:1" } as unknown as oskit.Service;
    assert.deepEqual(problemsOf(hello({ services: [plain] })), [
      "services[0]: expected an oskit.Service (new oskit.Service({ … })), got a plain object",
    ]);
    const foreign = {
      [Symbol.for("oskit.construct")]: "Service",
      props: { name: "web", image: "nginx:1" },
    } as unknown as oskit.Service;
    assert.deepEqual(hello({ services: [foreign] }).synth().services, [
      { name: "web", image: "nginx:1" },
    ]);
    assert.equal(hello()[CONSTRUCT], "Image");
    assert.ok(oskit.Image.isImage(hello()) && !oskit.Image.isImage({}));
  });

  it("keeps its own copy of the props it was given", () => {
    const capabilities: ("CAP_CHOWN" | "CAP_KILL")[] = ["CAP_CHOWN"];
    const service = new oskit.Service({ name: "a", image: "a:1", capabilities });
    capabilities.push("CAP_KILL");
    assert.deepEqual(service.props.capabilities, ["CAP_CHOWN"]);
  });

  it("resolves defaults in the constructors, where tests and programs can read them", () => {
    const kernel = new oskit.Kernel({ image: "k:1", tar: "" });
    assert.deepEqual([kernel.binary, kernel.tar, kernel.cmdline], ["kernel", "none", ""]);
    assert.equal(oskit.File.directory("/var/lib/a").mode, "0700");
    assert.equal(oskit.File.text("/a", "x").mode, "0600");
    assert.equal(oskit.File.text("/a", "x", { mode: "755" }).mode, "0755");
    assert.equal(new oskit.Volume({ name: "v" }).readonly, false);
  });

  it("holds input placeholders as data for the build to fill in", () => {
    const image = hello({
      files: [oskit.File.text("/etc/web/token", oskit.input("apiToken"), { mode: 0o400 })],
    });
    assert.deepEqual(image.synth().files, [
      { path: "/etc/web/token", contents: { $input: "apiToken" }, mode: "0400" },
    ]);
    assert.deepEqual(
      problemsOf(hello({ files: [oskit.File.text("/t", oskit.input("bad-name"))] })),
      [
        "files[/t].contents.$input: invalid input name \"bad-name\"; expected a letter followed by letters, digits or '_'",
      ],
    );
    assert.throws(() => image.toYaml(), /LinuxKit YAML cannot hold input placeholders/);
    assert.match(image.toYaml({ inputs: { apiToken: "s3cret" } }), /contents: s3cret/);
  });

  it("reads LinuxKit YAML (one or several files) and round-trips through a manifest", () => {
    const fromFile = oskit.Image.fromFile(join(FIXTURES, "linuxkit", "sshd.yml"));
    assert.deepEqual(
      fromFile.synth().onboot?.map((c) => c.name),
      ["sysctl", "rngd1", "dhcpcd"],
    );
    assert.deepEqual(oskit.Image.fromManifest(fromFile.synth()).synth(), fromFile.synth());
    assert.deepEqual(oskit.Image.fromYaml(fromFile.toYaml()).synth(), fromFile.synth());
    const merged = oskit.Image.fromFile(
      join(FIXTURES, "merge", "base.yml"),
      join(FIXTURES, "merge", "extra.yml"),
    );
    assert.deepEqual(
      merged.synth().services?.map((s) => s.name),
      ["getty", "sshd"],
    );
    assert.equal(merged.toJson(), `${oskit.canonicalJson(merged.synth(), 2)}\n`);
  });

  it("reports a single construct where a list belongs, and checks the rest despite a bad entry", () => {
    const single = new oskit.Service({
      name: "web",
      image: "nginx:1",
    }) as unknown as oskit.Service[];
    assert.deepEqual(problemsOf(hello({ services: single })), [
      "services: expected a list of oskit.Service, got an oskit.Service",
    ]);
    assert.deepEqual(
      problemsOf(
        hello({
          services: [{} as oskit.Service, new oskit.Service({ name: "db", image: "Postgres" })],
        }),
      ),
      [
        "services[0]: expected an oskit.Service (new oskit.Service({ … })), got a plain object",
        "services[db].image: invalid image reference \"Postgres\": \"Postgres\" is not a valid repository path component (lowercase letters, digits and single '.', '_' or '-' separators)",
      ],
    );
  });
});
