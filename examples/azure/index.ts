// azure: hello on Azure, as a Pulumi stack. `pulumi up` builds the system (oskit.ImageBuild, vhd: a
// fixed VHD), uploads it as a page blob and registers it as a managed image (oskit.azure.Image:
// only the disk's non-zero pages are written) and launches it (oskit.azure.VirtualMachine: the
// page's message as custom data, port 80 open, boot diagnostics on); `pulumi destroy` deletes the
// VM with its disk, its network, the image and the blob.
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "oskit";
import hello from "../hello/os";

const config = new pulumi.Config();
/** The region of the image and the VM: `pulumi config set azure-native:location westeurope`. */
const location = new pulumi.Config("azure-native").require("location");
/** An existing resource group for everything: `pulumi config set resourceGroupName oskit`. */
const resourceGroupName = config.require("resourceGroupName");

const build = new oskit.ImageBuild("hello", { image: hello, formats: ["vhd"] });

const image = new oskit.azure.Image("hello", {
  artifact: build.artifacts["vhd"],
  resourceGroupName,
  location,
  // Where the VHD goes before Azure reads it: a storage account in the same region and a
  // container in it (`pulumi config set storageAccount myimages`, `… container vhds`).
  storageAccount: config.require("storageAccount"),
  container: config.get("container") ?? "vhds",
});

const vm = new oskit.azure.VirtualMachine("hello", {
  image: image.imageId,
  // What the system needs in RAM comes from the artifact: a size with too little is refused.
  artifact: build.artifacts["vhd"],
  vmSize: config.get("vmSize") ?? "Standard_B1s",
  resourceGroupName,
  location,
  publish: ["80"],
  // What the page shows as its nonce: the metadata package reads the custom data from Azure's
  // ovf-env.xml into /run/config/userdata (`pulumi config set --secret message …`; secret in the
  // state either way).
  customData: config.getSecret("message") ?? "hello from Azure",
  // Azure requires one for a Linux VM; it lands in /run/config/ssh/authorized_keys.
  sshPublicKeys: [config.require("sshPublicKey")],
});

export const imageId = image.imageId;
export const vmName = vm.vmName;
/** The page, on the VM's public address. */
export const url = pulumi.interpolate`http://${vm.publicIpAddress}/cgi-bin/hello`;
