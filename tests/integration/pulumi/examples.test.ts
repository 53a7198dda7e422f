import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { createJiti } from "jiti";
import { ROOT } from "../../support/paths";

/** What the program asked the engine for, as the mock monitor received it. */
interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly dependencies: readonly string[];
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
  readonly additionalSecretOutputs: readonly string[];
}

const ARTIFACT = {
  format: "kernel+initrd",
  path: "/stack/.oskit/build/0123456789abcdef/hello",
  sha256: `sha256:${"ab".repeat(32)}`,
  size: 7_000_000,
  files: [
    {
      name: "hello-kernel",
      path: "/stack/.oskit/build/0123456789abcdef/hello-kernel",
      sha256: `sha256:${"cd".repeat(32)}`,
      size: 6_000_000,
    },
  ],
};

/** The output's value (mocks resolve every output). */
function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("examples/local under pulumi.runtime.setMocks", function () {
  this.timeout(60000);
  const registrations: Registration[] = [];
  let program: { url: pulumi.Output<string>; consoleLog: pulumi.Output<string> };
  let register: typeof MockMonitor.prototype.registerResource;

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the monitor as `this`, restored after
    register = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (
      this: MockMonitor,
      req: RegisterResourceRequest,
      callback: (err: unknown, response: { getUrn(): string } | undefined) => void,
    ) {
      const propertyDependencies: Record<string, string[]> = {};
      req
        .getPropertydependenciesMap()
        .forEach((deps, key) => (propertyDependencies[key] = deps.getUrnsList()));
      return register.call(this, req, (err: unknown, response: { getUrn(): string }) => {
        if (response !== undefined)
          registrations.push({
            urn: response.getUrn(),
            type: req.getType(),
            name: req.getName(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          });
        callback(err, response);
      });
    } as typeof MockMonitor.prototype.registerResource;
    pulumi.runtime.setAllConfig({ "oskit-local:message": "a secret nonce" }, [
      "oskit-local:message",
    ]);
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          if (args.name === "hello")
            return {
              id: "/stack/.oskit/build/0123456789abcdef",
              state: {
                ...inputs,
                dir: "/stack/.oskit/build/0123456789abcdef",
                artifacts: { "kernel+initrd": ARTIFACT },
              },
            };
          const stateDir = inputs.stateDir as string;
          return {
            id: stateDir,
            state: {
              ...inputs,
              pid: 4242,
              ports: [{ address: "127.0.0.1", host: 8080, guest: 80, protocol: "tcp" }],
              consoleLog: join(stateDir, "console.log"),
            },
          };
        },
        call: () => ({}),
      },
      "oskit-local",
      "dev",
      false,
    );
    const jiti = createJiti(__filename, {
      interopDefault: true,
      alias: { oskit: join(ROOT, "dist", "sdk", "index.js") },
    });
    program = await jiti.import(join(ROOT, "examples", "local", "index.ts"));
  });
  after(() => {
    MockMonitor.prototype.registerResource = register;
  });

  it("GIVEN the program WHEN run THEN it registers an ImageBuild of hello and a QemuVm that boots its artifact", async () => {
    assert.equal(await valueOf(program.url), "http://127.0.0.1:8080/cgi-bin/hello");
    assert.equal(
      await valueOf(program.consoleLog),
      join(process.cwd(), ".oskit", "vms", "hello-vm", "console.log"),
    );
    assert.deepEqual(
      registrations.map((r) => [r.type, r.name]),
      [
        ["pulumi-nodejs:dynamic/oskit:ImageBuild", "hello"],
        ["pulumi-nodejs:dynamic/oskit/local:QemuVm", "hello-vm"],
      ],
    );
    const [build, vm] = registrations as [Registration, Registration];

    const os = build.inputs.os as Record<string, Record<string, Record<string, unknown>>>;
    const inOrder = (section: Record<string, Record<string, unknown>>) =>
      Object.entries(section)
        .sort(([, a], [, b]) => (a.order as number) - (b.order as number))
        .map(([name]) => name);
    assert.deepEqual(inOrder(os.onboot!), ["dhcpcd", "metadata"], "containers keyed by name");
    assert.deepEqual(inOrder(os.services!), ["web", "getty"]);
    assert.equal(os.files!["/etc/web/cgi-bin/hello"]!.mode, "0755", "files keyed by path");
    assert.deepEqual(build.inputs.formats, ["kernel+initrd"]);
    assert.equal(build.inputs.name, "hello");
    assert.match(build.inputs.manifestDigest as string, /^sha256:[0-9a-f]{64}$/);
    assert.match(build.inputs.__provider as string, /oskit\/dynamic/);

    assert.deepEqual(vm.inputs.artifact, ARTIFACT, "the ImageBuild's kernel+initrd artifact");
    assert.deepEqual(vm.propertyDependencies.artifact, [build.urn]);
    assert.ok(vm.dependencies.includes(build.urn), "the VM depends on the build");
    assert.deepEqual(vm.inputs.publish, ["8080:80"]);
    assert.equal(vm.inputs.mem, 1024);
    assert.equal(vm.inputs.cpus, 1);
    assert.equal(vm.inputs.stateDir, join(process.cwd(), ".oskit", "vms", "hello-vm"));
    assert.deepEqual(vm.additionalSecretOutputs, ["data"]);
    const data = vm.inputs.data as Record<string, unknown>;
    assert.equal(data.value, "a secret nonce");
    assert.equal(
      data["4dabf18193072939515e22adb298388d"],
      "1b47061264138c4ac30d75fd1eb44270",
      "a secret",
    );
    assert.match(vm.inputs.__provider as string, /qemuVm/);
  });
});
