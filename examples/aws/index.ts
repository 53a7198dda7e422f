// aws: hello on EC2, as a Pulumi stack. `pulumi up` builds the system (oskit.ImageBuild, raw-efi),
// registers it as an AMI (oskit.aws.Ami: only the disk's non-zero blocks are uploaded, straight
// into an EBS snapshot) and launches it (oskit.aws.Instance: IMDSv2 only, the page's message as
// user data, port 80 open); `pulumi destroy` terminates it and deletes the AMI and its snapshot.
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "oskit";
import hello from "../hello/os";

const config = new pulumi.Config();
/** The region of the AMI and the instance: `pulumi config set aws:region eu-west-1`. */
const region = new pulumi.Config("aws").require("region");

const build = new oskit.ImageBuild("hello", { image: hello, formats: ["raw-efi"] });

const ami = new oskit.aws.Ami("hello", { artifact: build.artifacts["raw-efi"], region });

const vm = new oskit.aws.Instance("hello", {
  ami: ami.imageId,
  // What the system needs in RAM comes from the artifact: a type with too little is refused.
  artifact: build.artifacts["raw-efi"],
  instanceType: config.get("instanceType") ?? "t3.micro",
  region,
  publish: ["80"],
  // What the page shows as its nonce: the metadata package puts the user data in
  // /run/config/userdata (`pulumi config set --secret message …`; secret in the state either way).
  userData: config.getSecret("message") ?? "hello from EC2",
});

export const imageId = ami.imageId;
export const instanceId = vm.instanceId;
/** The page, on the instance's public address. */
export const url = pulumi.interpolate`http://${vm.publicIp}/cgi-bin/hello`;
