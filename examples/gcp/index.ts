// gcp: hello on GCE, as a Pulumi stack. `pulumi up` builds the system (oskit.ImageBuild, gce),
// uploads and registers it as a GCE image (oskit.gcp.Image: a resumable upload to Cloud Storage,
// then images.insert) and launches it (oskit.gcp.Instance: serial port enabled, the page's message
// as user data, port 80 open); `pulumi destroy` deletes the instance, the image and the object.
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "oskit";
import hello from "../hello/os";

const config = new pulumi.Config();
/** The zone of the instance: `pulumi config set gcp:zone europe-west1-b`. */
const zone = new pulumi.Config("gcp").require("zone");

const build = new oskit.ImageBuild("hello", { image: hello, formats: ["gce"] });

const image = new oskit.gcp.Image("hello", {
  artifact: build.artifacts["gce"],
  // Where the tarball goes before GCE reads it: `pulumi config set bucket my-images`.
  bucket: config.require("bucket"),
});

const vm = new oskit.gcp.Instance("hello", {
  image: image.selfLink,
  // What the system needs in RAM comes from the artifact: a type with too little is refused.
  artifact: build.artifacts["gce"],
  machineType: config.get("machineType") ?? "e2-micro",
  zone,
  publish: ["80"],
  // What the page shows as its nonce: the metadata package puts the user data in
  // /run/config/userdata (`pulumi config set --secret message …`; secret in the state either way).
  userData: config.getSecret("message") ?? "hello from GCE",
});

export const imageSelfLink = image.selfLink;
export const instanceName = vm.instanceName;
/** The page, on the instance's external address. */
export const url = pulumi.interpolate`http://${vm.externalIp}/cgi-bin/hello`;
