// local: hello, built and running on this machine under QEMU, as a Pulumi stack. No cloud account:
// `pulumi up` builds the system (oskit.ImageBuild) and boots it (oskit.local.QemuVm) with its web
// service on a local port; `pulumi destroy` powers it off.
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "oskit";
import hello from "../hello/os";

const config = new pulumi.Config();
/** The host port the guest's web service (port 80) is forwarded to. */
const port = config.getNumber("port") ?? 8080;

const build = new oskit.ImageBuild("hello", { image: hello, formats: ["kernel+initrd"] });

const vm = new oskit.local.QemuVm("hello-vm", {
  artifact: build.artifacts["kernel+initrd"],
  publish: [`${port}:80`],
  // What the page shows as its nonce: the configuration the guest was booted with (a secret may
  // be given: `pulumi config set --secret message …`; it stays secret in the stack's state).
  data: config.getSecret("message") ?? "hello from pulumi",
});

/** The page, through the forward of the guest's port 80. */
export const url = vm.ports.apply(
  (ports) => `http://127.0.0.1:${ports.find((p) => p.guest === 80)?.host}/cgi-bin/hello`,
);
export const consoleLog = vm.consoleLog;
