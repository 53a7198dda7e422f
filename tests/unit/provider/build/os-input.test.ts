import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as oskit from "../../../../sdk/core";
import { manifestOf, osInput, propertyPath } from "../../../../provider/build/os-input";
import { validateManifest } from "../../../../sdk/manifest/validate";
import type { Manifest } from "../../../../sdk/manifest/schema";
import { ROOT } from "../../../support/paths";

/** The leaf paths at which two JSON values differ, as Pulumi's preview names them. */
function changedPaths(a: unknown, b: unknown, at = ""): string[] {
  const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    return keys.flatMap((k) =>
      changedPaths(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        at === "" ? k : `${at}.${k}`,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

const pkg = (name: string) => oskit.packageRef(join(ROOT, "pkg", name));

/** examples/hello's shape, with the changes a second version makes. */
function hello(version: 1 | 2): Manifest {
  return new oskit.Image({
    kernel: new oskit.Kernel({ image: pkg("kernel"), cmdline: "console=ttyS0 quiet" }),
    init: [pkg("init")],
    onboot: [
      new oskit.Service({ name: "metadata", image: pkg("metadata") }),
      new oskit.Service({ name: "dhcpcd", image: pkg("dhcpcd") }),
    ],
    services: [
      new oskit.Service({
        name: "web",
        image: pkg("httpd"),
        binds: ["/etc/web:/srv/www:ro"],
        ...(version === 2 && { capabilities: ["CAP_NET_BIND_SERVICE"] }),
      }),
      new oskit.Service({ name: "getty", image: pkg("getty") }),
    ],
    files: [
      oskit.File.text("/etc/web/index.html", version === 1 ? "hello\n" : "hello, world\n", {
        mode: 0o644,
      }),
      oskit.File.text("/etc/motd", "welcome\n"),
    ],
  }).synth();
}

describe("the OS as a Pulumi input", () => {
  it("keys containers by name and files by path, and converts back to the same manifest", () => {
    const manifest = hello(1);
    const os = osInput(manifest);
    assert.deepEqual(Object.keys(os.services as object), ["web", "getty"]);
    assert.deepEqual(Object.keys(os.files as object), ["/etc/web/index.html", "/etc/motd"]);
    assert.equal((os.onboot as Record<string, { order: number }>).dhcpcd!.order, 1);
    assert.deepEqual(validateManifest(manifestOf(os)), manifest);
  });

  it("makes two versions of hello differ exactly at the changed OS paths", () => {
    assert.deepEqual(changedPaths(osInput(hello(1)), osInput(hello(2))), [
      "files./etc/web/index.html.contents",
      "services.web.capabilities",
    ]);
  });

  it("keeps the order of onboot containers when keyed by name", () => {
    const manifest = hello(1);
    const os = osInput(manifest) as Record<string, Record<string, object>>;
    const reordered = {
      ...os,
      onboot: { dhcpcd: os.onboot!.dhcpcd, metadata: os.onboot!.metadata },
    };
    const back = manifestOf(reordered) as Manifest;
    assert.deepEqual(
      back.onboot!.map((c) => c.name),
      ["metadata", "dhcpcd"],
    );
  });

  it("leaves a list whose names repeat as a list, for check to report", () => {
    const raw = {
      services: [
        { name: "a", image: "x:1" },
        { name: "a", image: "y:1" },
      ],
    };
    assert.ok(Array.isArray(osInput(raw).services));
  });

  it("names problems by the input's property paths", () => {
    assert.equal(
      propertyPath({ path: "services[web].capabilities[0]", message: "" }),
      "os.services.web.capabilities[0]",
    );
    assert.equal(
      propertyPath({ path: "files[/etc/x].mode", message: "" }),
      'os.files["/etc/x"].mode',
    );
    assert.equal(
      propertyPath({ path: "onboot[net-up].net", message: "" }),
      'os.onboot["net-up"].net',
    );
    assert.equal(propertyPath({ path: "kernel.image", message: "" }), "os.kernel.image");
  });
});
