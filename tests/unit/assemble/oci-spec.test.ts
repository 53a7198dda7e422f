import { strict as assert } from "node:assert";
import { AssembleError } from "../../../sdk/errors";
import {
  jsonWithBigInts,
  ociSpec,
  runtimeConfig,
  runtimeSteps,
} from "../../../sdk/assemble/oci-spec";
import { LINUX_CAPABILITIES } from "../../../sdk/manifest/capabilities";
import { importLinuxkit } from "../../../sdk/manifest/linuxkit/import";
import type { ContainerConfig } from "../../../sdk/manifest/linuxkit/label";
import type { ContainerSpec } from "../../../sdk/manifest/schema";
import { validateManifest } from "../../../sdk/manifest/validate";
import type { ImageConfig } from "../../../sdk/resolve/oci";
import { linuxkitFixtures } from "../../support/fixtures";
import { assertGolden } from "../../support/golden";

const image: ImageConfig = {
  architecture: "amd64",
  os: "linux",
  config: { Entrypoint: ["/entry"], Cmd: ["--flag"], Env: ["FROM=image"], WorkingDir: "/work" },
  rootfs: { type: "layers", diff_ids: [] },
};
const container = (fields: Partial<ContainerSpec>): ContainerSpec =>
  validateManifest({
    volumes: [{ name: "cache" }],
    services: [
      { name: "web", image: "x:1" },
      { name: "c", image: "x:1", ...fields },
    ],
  }).services![1]!;
const spec = (
  fields: Partial<ContainerSpec>,
  label: ContainerConfig = {},
  ids = new Map<string, number>(),
) =>
  ociSpec({ container: container(fields), label, image, ids }) as {
    process: {
      args: string[];
      env: string[];
      cwd: string;
      user: { uid: number; gid: number; additionalGids?: number[] };
      capabilities: Record<string, string[]>;
      rlimits?: unknown[];
    };
    root: { readonly: boolean };
    mounts: { destination: string; type: string; source: string; options?: string[] }[];
    linux: {
      namespaces: Record<string, string>[];
      devices?: unknown[];
      resources?: { devices?: unknown[] };
    };
  };

describe("config.json", () => {
  it("takes each field from the manifest, else the label, else the image config, else the default", () => {
    assert.deepEqual(spec({}).process.args, ["/entry", "--flag"]);
    assert.deepEqual(spec({}, { command: ["/label"] }).process.args, ["/label"]);
    assert.deepEqual(spec({ command: ["/manifest"] }, { command: ["/label"] }).process.args, [
      "/manifest",
    ]);
    assert.deepEqual(spec({}).process.env, ["FROM=image"]);
    assert.deepEqual(spec({}, { env: ["FROM=label"] }).process.env, ["FROM=label"]);
    assert.equal(spec({}).process.cwd, "/work");
    assert.equal(spec({ cwd: "/m" }, { cwd: "/l" }).process.cwd, "/m");
    assert.equal(spec({}, { readonly: true }).root.readonly, true);
    assert.equal(spec({ readonly: false }, { readonly: true }).root.readonly, false);
  });

  it("replaces the label's capabilities and binds, or adds to them", () => {
    const label: ContainerConfig = { capabilities: ["CAP_CHOWN"], binds: ["/a:/a"] };
    assert.deepEqual(
      spec({ capabilitiesAdd: ["CAP_KILL"] }, label).process.capabilities.effective,
      ["CAP_CHOWN", "CAP_KILL"],
    );
    assert.deepEqual(
      spec({ capabilities: ["CAP_SYSLOG"], capabilitiesAdd: ["CAP_KILL"] }, label).process
        .capabilities.effective,
      ["CAP_SYSLOG"],
    );
    const binds = (s: ReturnType<typeof spec>) =>
      s.mounts.filter((m) => m.type === "bind").map((m) => m.destination);
    assert.deepEqual(binds(spec({ bindsAdd: ["/b:/b"] }, label)), ["/a", "/b"]);
    assert.deepEqual(binds(spec({ binds: ["/c:/c"], bindsAdd: ["/b:/b"] }, label)), ["/c"]);
  });

  it("expands the label's all or none before adding the manifest's capabilities.add", () => {
    const all = spec({ capabilitiesAdd: ["CAP_NET_ADMIN"] }, { capabilities: ["all"] }).process
      .capabilities;
    assert.deepEqual(all.effective, [...LINUX_CAPABILITIES]);
    assert.deepEqual(all.bounding, [...LINUX_CAPABILITIES].sort());
    assert.deepEqual(
      spec({ capabilitiesAdd: ["CAP_KILL"] }, { capabilities: ["none"] }).process.capabilities
        .effective,
      ["CAP_KILL"],
    );
    assert.deepEqual(
      spec({ capabilitiesAdd: ["all"] }, { capabilities: ["CAP_KILL"] }).process.capabilities
        .effective,
      ["CAP_KILL", ...LINUX_CAPABILITIES.filter((c) => c !== "CAP_KILL")],
    );
  });

  it("expands all and none, and sets bounding, inheritable and permitted to the sorted union with ambient", () => {
    assert.equal(spec({ capabilities: ["all"] }).process.capabilities.effective!.length, 41);
    assert.deepEqual(spec({ capabilities: ["none"] }).process.capabilities.effective, []);
    const caps = spec({ capabilities: ["CAP_SYSLOG", "CAP_CHOWN"], ambient: ["CAP_KILL"] }).process
      .capabilities;
    assert.deepEqual(caps.effective, ["CAP_SYSLOG", "CAP_CHOWN"]);
    for (const set of ["bounding", "inheritable", "permitted"])
      assert.deepEqual(caps[set], ["CAP_CHOWN", "CAP_KILL", "CAP_SYSLOG"]);
    assert.deepEqual(caps.ambient, ["CAP_KILL"]);
  });

  it("has LinuxKit's default mounts, bind and tmpfs options, volume sources, sorted by destination", () => {
    const mounts = spec({
      readonly: true,
      binds: ["/host:/data", "cache:/cache:ro"],
      tmpfs: ["/run:size=1m"],
      mounts: [{ source: "mqueue" }],
    }).mounts;
    assert.deepEqual(
      mounts.map((m) => m.destination),
      [
        "/cache",
        "/data",
        "/dev",
        "/dev/mqueue",
        "/dev/pts",
        "/proc",
        "/run",
        "/sys",
        "/sys/fs/cgroup",
      ],
    );
    const by = (d: string) => mounts.find((m) => m.destination === d);
    assert.deepEqual(by("/data"), {
      destination: "/data",
      type: "bind",
      source: "/host",
      options: ["rw", "rbind", "rshared"],
    });
    assert.deepEqual(by("/cache"), {
      destination: "/cache",
      type: "bind",
      source: "/containers/volumes/cache/merged",
      options: ["ro", "rbind"],
    });
    assert.deepEqual(by("/run"), {
      destination: "/run",
      type: "tmpfs",
      source: "tmpfs",
      options: ["size=1m"],
    });
    assert.deepEqual(by("/dev/mqueue"), {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
    });
    assert.deepEqual(by("/dev")?.options, [
      "nosuid",
      "strictatime",
      "mode=755",
      "size=65536k",
      "ro",
    ]);
    assert.deepEqual(by("/sys")?.options, ["nosuid", "noexec", "nodev", "ro"]);
  });

  it("gives a new pid, mount and cgroup namespace and shares the host's others unless asked", () => {
    assert.deepEqual(spec({}).linux.namespaces, [
      { type: "pid" },
      { type: "mount" },
      { type: "cgroup" },
    ]);
    assert.deepEqual(
      spec({ pid: "host", net: "none", ipc: "/run/ns/ipc", userns: "new" }).linux.namespaces,
      [
        { type: "network" },
        { type: "mount" },
        { type: "ipc", path: "/run/ns/ipc" },
        { type: "user" },
        { type: "cgroup" },
      ],
    );
  });

  it("resolves ids by container name, writes unlimited rlimits exactly, and allows devices", () => {
    const s = spec(
      {
        uid: "web",
        gid: "root",
        additionalGids: [5, "web"],
        rlimits: [{ type: "nofile", soft: 10, hard: "unlimited" }],
        devices: [
          { path: "/dev/fuse", type: "c", major: 10, minor: 229, mode: "0666" },
          { path: "all", type: "b" },
        ],
      },
      {},
      new Map([["web", 103]]),
    );
    assert.deepEqual(s.process.user, { uid: 103, gid: 0, additionalGids: [5, 103] });
    assert.match(jsonWithBigInts(s), /"hard": 18446744073709551615,\n\s+"soft": 10/);
    assert.deepEqual(s.linux.devices, [
      { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    assert.deepEqual(s.linux.resources?.devices, [
      { allow: true, type: "c", major: 10, minor: 229, access: "rwm" },
      { allow: true, type: "b", access: "rwm" },
    ]);
    assert.throws(
      () =>
        ociSpec({
          container: { ...container({}), uid: "ghost" },
          label: {},
          image,
          ids: new Map(),
        }),
      AssembleError,
    );
  });

  it("refuses a container with nothing to run", () => {
    assert.throws(
      () =>
        ociSpec({
          container: container({}),
          label: {},
          image: { ...image, config: {} },
          ids: new Map(),
        }),
      /nothing to run/,
    );
  });

  it("matches the golden config.json of the fixture with every field", () => {
    const fixture = linuxkitFixtures().find((f) => f.name === "everything")!;
    const manifest = importLinuxkit({ text: fixture.text }).manifest;
    const ids = new Map([...["netns", "drain", "app"].entries()].map(([i, n]) => [n, 100 + i]));
    const app = manifest.services!.find((s) => s.name === "app")!;
    assertGolden(
      "assemble/app-config.json",
      jsonWithBigInts(
        ociSpec({ container: app, label: { capabilities: ["CAP_AUDIT_WRITE"] }, image, ids }),
      ),
    );
  });
});

describe("runtime.json and runtime.steps", () => {
  it("merge the manifest's and the label's actions field by field, as tab-separated lines", () => {
    const runtime = runtimeConfig(
      container({
        runtime: {
          mkdir: ["/run/a"],
          bindNS: { net: "/run/netns/a" },
          interfaces: [{ name: "wg0", add: "wireguard", createInRoot: true }],
        },
      }),
      {
        runtime: {
          cgroups: ["podruntime"],
          mkdir: ["/ignored"],
          bindNS: { ipc: "/run/ns/ipc" },
          mounts: [{ type: "tmpfs", destination: "/run/t", options: ["size=1m"] }],
        },
      },
    );
    assert.deepEqual(runtime, {
      cgroups: ["podruntime"],
      mounts: [{ type: "tmpfs", destination: "/run/t", options: ["size=1m"] }],
      mkdir: ["/run/a"],
      interfaces: [{ name: "wg0", add: "wireguard", createInRoot: true }],
      bindNS: { ipc: "/run/ns/ipc", net: "/run/netns/a" },
    });
    assert.equal(
      runtimeSteps(runtime, "c"),
      [
        "mkdir\t/run/a",
        "mount\ttmpfs\ttmpfs\t/run/t\tsize=1m",
        "cgroup\tpodruntime",
        "interface\twg0\twireguard\t-\t1",
        "bindns\tipc\t/run/ns/ipc",
        "bindns\tnet\t/run/netns/a",
        "",
      ].join("\n"),
    );
    assert.throws(() => runtimeSteps({ mkdir: ["/a\tb"] }, "c"), /tabs or line breaks/);
  });
});
