/**
 * oskit's Pulumi package, described once: `make schema` writes it as schema.json (the package
 * schema other languages generate their SDKs from), the plugin serves that file and acts on the
 * secret flags and required lists here. Descriptions are the resource classes' JSDoc words; a
 * test holds the two together (tests/unit/provider/schema.test.ts).
 */
import { FORMATS } from "../sdk/formats/writers";
import { BOOT_MODES } from "./aws/register";

/** A value's type, in the package schema's terms. */
export type TypeSpec =
  | { readonly type: "string" | "integer" | "number" | "boolean" }
  | { readonly type: "array"; readonly items: TypeSpec }
  | { readonly type: "object"; readonly additionalProperties: TypeSpec }
  | { readonly $ref: string };

export interface PropertySpec {
  readonly type: TypeSpec;
  /** One line, the JSDoc comment's words. */
  readonly description: string;
  /** What holds when the property is not given, in words (the JSDoc `@default`). */
  readonly default?: string;
  /** Always a secret, in and out. */
  readonly secret?: boolean;
}

/** Where the words of a resource or type are written in TypeScript (the test compares them). */
export interface JsDocSource {
  /** From the repository's top. */
  readonly file: string;
  /** The interface or class whose members document the properties. */
  readonly members: readonly string[];
  /** The class or interface whose own comment is the description. */
  readonly described: string;
  /** Properties whose words are written here alone (the class takes them in another shape). */
  readonly own?: readonly string[];
}

export interface ResourceSpec {
  readonly description: string;
  readonly jsdoc: JsDocSource;
  readonly inputs: Readonly<Record<string, PropertySpec>>;
  readonly requiredInputs: readonly string[];
  /** What the resource adds to its inputs in its state. */
  readonly outputs: Readonly<Record<string, PropertySpec>>;
  /** Present in every state: the required inputs, those the provider fills in, and outputs. */
  readonly required: readonly string[];
  /** Outputs that are secret whenever the named input carries a secret. */
  readonly secretWith?: Readonly<Record<string, readonly string[]>>;
}

export interface ObjectSpec {
  readonly description: string;
  readonly jsdoc: JsDocSource;
  readonly properties: Readonly<Record<string, PropertySpec>>;
  readonly required: readonly string[];
}

export interface EnumSpec {
  readonly description: string;
  readonly values: readonly string[];
}

const PACKAGE = "oskit";
const ref = (token: string): TypeSpec => ({ $ref: `#/types/${token}` });
const string: TypeSpec = { type: "string" };
const integer: TypeSpec = { type: "integer" };
const boolean: TypeSpec = { type: "boolean" };
const arrayOf = (items: TypeSpec): TypeSpec => ({ type: "array", items });
const mapOf = (additionalProperties: TypeSpec): TypeSpec => ({
  type: "object",
  additionalProperties,
});
/** Any JSON value. */
const any: TypeSpec = { $ref: "pulumi.json#/Any" };

const IMAGE_BUILD_FILE = "provider/build/image-build.ts";
const AMI_FILE = "provider/aws/ami.ts";
const GCP_IMAGE_FILE = "provider/gcp/image.ts";
const AZURE_IMAGE_FILE = "provider/azure/image.ts";
const AZURE_RESOURCE_FILE = "provider/azure/resource.ts";

/** The package's object and enum types, by token. */
export const TYPES = {
  enums: {
    "oskit:index:Format": {
      description: "A format oskit writes.",
      values: FORMATS,
    },
    "oskit:aws:BootMode": {
      description: "How EC2 boots an AMI.",
      values: BOOT_MODES,
    },
  } satisfies Readonly<Record<string, EnumSpec>>,
  objects: {
    "oskit:index:ArtifactFile": {
      description: "One file of an artifact.",
      jsdoc: { file: IMAGE_BUILD_FILE, members: ["ArtifactFile"], described: "ArtifactFile" },
      properties: {
        name: { type: string, description: "The file's name in the artifact directory." },
        path: { type: string, description: "The file's absolute path." },
        sha256: { type: string, description: "sha256 of the file's bytes." },
        size: { type: integer, description: "Bytes." },
      },
      required: ["name", "path", "sha256", "size"],
    },
    "oskit:index:Artifact": {
      description: "A format's output.",
      jsdoc: { file: IMAGE_BUILD_FILE, members: ["Artifact"], described: "Artifact" },
      properties: {
        format: { type: ref("oskit:index:Format"), description: "The format written." },
        path: {
          type: string,
          description:
            "What `oskit run qemu` boots and publishers upload: the file, or for kernel+initrd the NAME prefix.",
        },
        sha256: {
          type: string,
          description: "sha256 of the file; of several files, of their `sha256  name` lines.",
        },
        size: { type: integer, description: "Bytes, all files together." },
        files: {
          type: arrayOf(ref("oskit:index:ArtifactFile")),
          description: "Its files, each with its path, sha256 and size.",
        },
      },
      required: ["format", "path", "sha256", "size", "files"],
    },
    "oskit:local:PortForward": {
      description: "A port forward of a running VM.",
      jsdoc: {
        file: "provider/local/qemu-vm.ts",
        members: ["PortForward"],
        described: "PortForward",
        own: ["host", "guest", "protocol"],
      },
      properties: {
        address: { type: string, description: "The host's address the port is bound to." },
        host: { type: integer, description: "The host's port." },
        guest: { type: integer, description: "The guest's port." },
        protocol: { type: string, description: "`tcp` or `udp`." },
      },
      required: ["address", "host", "guest", "protocol"],
    },
    "oskit:aws:Endpoints": {
      description:
        "Where the clients connect: a region, and endpoint overrides (tests, GovCloud, China).",
      jsdoc: {
        file: "provider/aws/clients.ts",
        members: ["AwsEndpoints"],
        described: "AwsEndpoints",
      },
      properties: {
        ec2: {
          type: string,
          description: "EC2's endpoint, e.g. https://ec2.us-gov-west-1.amazonaws.com.",
          default: "the region's",
        },
        ebs: { type: string, description: "EBS direct's endpoint.", default: "the region's" },
        s3: {
          type: string,
          description: "S3's endpoint (the import path), addressed path-style.",
          default: "the region's",
        },
      },
      required: [],
    },
    "oskit:aws:RegionImage": {
      description: "An image in a region, and its root snapshot.",
      jsdoc: {
        file: "provider/aws/publish.ts",
        members: ["RegionImage"],
        described: "RegionImage",
        own: ["imageId", "snapshotId"],
      },
      properties: {
        imageId: { type: string, description: "The AMI's id." },
        snapshotId: { type: string, description: "Its root snapshot's id." },
      },
      required: ["imageId", "snapshotId"],
    },
    "oskit:aws:LaunchPermissions": {
      description: "Who may launch an AMI besides its owner.",
      jsdoc: {
        file: "provider/aws/attributes.ts",
        members: ["LaunchPermissions"],
        described: "LaunchPermissions",
      },
      properties: {
        accounts: {
          type: arrayOf(string),
          description: "AWS account ids (12 digits) that may launch it.",
          default: "none",
        },
        public: {
          type: boolean,
          description: "Anyone may launch it (a public AMI).",
          default: "false",
        },
      },
      required: [],
    },
    "oskit:aws:Owner": {
      description:
        "Who owns the AMI: tagged on everything, so two stacks never adopt or delete each other's.",
      jsdoc: { file: AMI_FILE, members: ["AmiOwner"], described: "AmiOwner" },
      properties: {
        project: { type: string, description: "The Pulumi project." },
        stack: { type: string, description: "The stack." },
        resource: { type: string, description: "The resource's name." },
      },
      required: ["project", "stack", "resource"],
    },
    "oskit:gcp:Endpoints": {
      description: "Where the clients connect (tests, private endpoints).",
      jsdoc: { file: "provider/gcp/http.ts", members: ["GcpEndpoints"], described: "GcpEndpoints" },
      properties: {
        storage: {
          type: string,
          description: "Cloud Storage's JSON API root.",
          default: "https://storage.googleapis.com",
        },
        compute: {
          type: string,
          description: "Compute Engine's API root.",
          default: "https://compute.googleapis.com",
        },
      },
      required: [],
    },
    "oskit:gcp:Owner": {
      description: "Who owns the image: labelled on it and in its object's metadata.",
      jsdoc: { file: GCP_IMAGE_FILE, members: ["ImageOwner"], described: "ImageOwner" },
      properties: {
        project: { type: string, description: "The Pulumi project." },
        stack: { type: string, description: "The stack." },
        resource: { type: string, description: "The resource's name." },
      },
      required: ["project", "stack", "resource"],
    },
    "oskit:azure:Endpoints": {
      description: "Where the clients connect (tests, sovereign clouds, private endpoints).",
      jsdoc: { file: AZURE_IMAGE_FILE, members: ["AzureEndpoints"], described: "AzureEndpoints" },
      properties: {
        arm: {
          type: string,
          description: "Azure Resource Manager's root.",
          default: "https://management.azure.com",
        },
        blob: {
          type: string,
          description: "The storage account's blob service.",
          default: "https://ACCOUNT.blob.core.windows.net",
        },
      },
      required: [],
    },
    "oskit:azure:Owner": {
      description:
        "Who owns the image: tagged on it and its gallery version, and in its blob's metadata.",
      jsdoc: { file: AZURE_IMAGE_FILE, members: ["ImageOwner"], described: "ImageOwner" },
      properties: {
        project: { type: string, description: "The Pulumi project." },
        stack: { type: string, description: "The stack." },
        resource: { type: string, description: "The resource's name." },
      },
      required: ["project", "stack", "resource"],
    },
    "oskit:azure:TargetRegion": {
      description: "A region the version is replicated to.",
      jsdoc: {
        file: "provider/azure/gallery.ts",
        members: ["TargetRegion"],
        described: "TargetRegion",
      },
      properties: {
        name: { type: string, description: "The region, e.g. northeurope." },
        regionalReplicaCount: {
          type: integer,
          description: "Replicas in the region (more serve more VMs made at once).",
          default: "1",
        },
        storageAccountType: {
          type: string,
          description: "How the replicas are stored.",
          default: "Standard_LRS",
        },
      },
      required: ["name"],
    },
    "oskit:azure:Gallery": {
      description: "A Shared Image Gallery version to make of the image.",
      jsdoc: {
        file: AZURE_RESOURCE_FILE,
        members: ["ImageGalleryArgs"],
        described: "ImageGalleryArgs",
      },
      properties: {
        resourceGroupName: {
          type: string,
          description: "The gallery's resource group.",
          default: "the image's",
        },
        gallery: { type: string, description: "The gallery (it must exist)." },
        definition: {
          type: string,
          description:
            "The image definition (it must exist: Linux, Generalized, the disk's Hyper-V generation).",
        },
        version: {
          type: string,
          description: "MAJOR.MINOR.PATCH; a new artifact needs a new version.",
        },
        targetRegions: {
          type: arrayOf(ref("oskit:azure:TargetRegion")),
          description: "The regions it is replicated to.",
          default: "the image's location alone",
        },
        excludeFromLatest: {
          type: boolean,
          description: "Keep VMs that ask for `latest` on the version before.",
          default: "false",
        },
      },
      required: ["gallery", "definition", "version"],
    },
  } satisfies Readonly<Record<string, ObjectSpec>>,
};

const imageBuild = {
  description:
    "Builds an OS as part of the stack. `pulumi preview --diff` shows what changes in the OS (`os.services.web.capabilities`); nothing is built again when the manifest digest, the options and the input values are the same and every artifact is on disk with its recorded sha256.",
  jsdoc: {
    file: "provider/build/resource.ts",
    members: ["ImageBuildArgs", "ImageBuild"],
    described: "ImageBuild",
    own: ["os", "baseDir"],
  },
  inputs: {
    os: {
      type: any,
      description:
        "The system: an oskit manifest as JSON (`oskit export`), its containers and files as lists or keyed by name and path.",
    },
    formats: {
      type: arrayOf(ref("oskit:index:Format")),
      description: "The formats to write (`kernel+initrd`, `raw-efi`, `vhd`, `gce`, …).",
    },
    name: {
      type: string,
      description: "The outputs' file name prefix.",
      default: "the resource's name",
    },
    outDir: {
      type: string,
      description: "Where artifacts go, one directory per manifest digest.",
      default: "`.oskit/build` in the program's directory",
    },
    baseDir: {
      type: string,
      description: "Where relative file sources are found.",
      default: "the program's directory",
    },
    arch: {
      type: string,
      description: "OCI architecture of the images.",
      default: "this machine's",
    },
    inputs: {
      type: mapOf(string),
      description:
        'Values of the OS\'s input placeholders (`oskit.input("name")`); secrets stay secret.',
      secret: true,
    },
    diskSize: {
      type: integer,
      description: "Disk size in bytes for the disk formats.",
      default: "the smallest that fits, plus a margin",
    },
    bootImage: {
      type: string,
      description: "The image holding systemd's EFI stub.",
      default: "oskit's boot package",
    },
    store: {
      type: string,
      description: "The content store.",
      default: "OSKIT_STORE, else ~/.cache/oskit",
    },
  },
  requiredInputs: ["os", "formats"],
  outputs: {
    manifestDigest: {
      type: string,
      description: "sha256 of the canonical manifest: the OS's identity.",
    },
    dir: { type: string, description: "The directory holding the artifacts." },
    artifacts: {
      type: mapOf(ref("oskit:index:Artifact")),
      description: "Each format's artifact: its path, sha256, size and files.",
    },
  },
  required: [
    "os",
    "formats",
    "name",
    "outDir",
    "baseDir",
    "arch",
    "manifestDigest",
    "dir",
    "artifacts",
  ],
  // The artifacts' digests are of bytes that hold the input values.
  secretWith: { inputs: ["artifacts"] },
} as const satisfies ResourceSpec;

const qemuVm = {
  description:
    "Runs a built system under QEMU (TCG), detached, with port forwards: the embedded default target, no cloud account needed. Any change restarts the VM (a replacement, stopped before its successor starts); a VM whose QEMU has gone away is started again by `pulumi up`; `pulumi destroy` powers it off.",
  jsdoc: {
    file: "provider/local/resource.ts",
    members: ["QemuVmArgs", "QemuVm"],
    described: "QemuVm",
    own: ["artifact"],
  },
  inputs: {
    artifact: {
      type: ref("oskit:index:Artifact"),
      description:
        'The artifact to boot: an ImageBuild\'s `artifacts["kernel+initrd"]`, `["raw-efi"]`, … (kernel+initrd, uki, raw-efi, qcow2, vhd, aws or an ISO).',
    },
    publish: {
      type: arrayOf(string),
      description: "Port forwards `HOST:GUEST` (or `HOST:GUEST/udp`), bound to 127.0.0.1.",
      default: "none",
    },
    mem: { type: integer, description: "Memory in MiB.", default: "1024" },
    cpus: { type: integer, description: "Virtual processors.", default: "1" },
    data: {
      type: string,
      description:
        "User data for the metadata package (`/run/config/userdata` in the guest); may be a secret.",
      default: "none",
      secret: true,
    },
    stateDir: {
      type: string,
      description: "Where QEMU's pid, console log and QMP socket live.",
      default: "`.oskit/vms/NAME` in the program's directory",
    },
  },
  requiredInputs: ["artifact"],
  outputs: {
    pid: { type: integer, description: "QEMU's process id." },
    ports: {
      type: arrayOf(ref("oskit:local:PortForward")),
      description: "The port forwards, bound to 127.0.0.1.",
    },
    consoleLog: { type: string, description: "The guest's serial console log." },
  },
  required: ["artifact", "publish", "mem", "cpus", "stateDir", "pid", "ports", "consoleLog"],
} as const satisfies ResourceSpec;

const ami = {
  description:
    "Uploads an oskit disk straight into an EBS snapshot (only the blocks holding data) and registers it as an AMI: UEFI, ENA, IMDSv2 only, the architecture of the system. A new artifact replaces the AMI; `pulumi destroy` deregisters every copy and deletes their snapshots. The snapshots and AMIs are tagged with this stack and resource: an interrupted `pulumi up` resumes or cleans up what it started, and an AMI of the same artifact this resource made is adopted. Credentials come from the AWS SDK's default chain when the provider runs; none is in the state.",
  jsdoc: {
    file: "provider/aws/resource.ts",
    members: ["AmiArgs", "Ami"],
    described: "Ami",
    own: ["artifact", "region", "owner"],
  },
  inputs: {
    artifact: {
      type: ref("oskit:index:Artifact"),
      description:
        'The disk to publish: an ImageBuild\'s `artifacts["aws"]` (or `["raw-efi"]`, `["raw-bios"]`, `["raw-hybrid"]`).',
    },
    region: {
      type: string,
      description: "The region to upload and register in.",
      default: "AWS_REGION, else AWS_DEFAULT_REGION, where the plugin runs",
    },
    name: {
      type: string,
      description: "The AMI's name (the artifact's short digest is appended).",
      default: "the resource's name",
    },
    architecture: {
      type: string,
      description: "amd64 or arm64.",
      default: "read from the disk's EFI binary",
    },
    bootMode: {
      type: ref("oskit:aws:BootMode"),
      description: "uefi, legacy-bios or uefi-preferred.",
      default: "from the format: uefi for aws and raw-efi",
    },
    tpm: {
      type: boolean,
      description: "Give instances a TPM 2.0 (UEFI only).",
      default: "false",
    },
    encrypted: {
      type: boolean,
      description:
        "Encrypt the snapshot. The default `aws/ebs` key cannot be shared with other accounts: give `kmsKeyArn` for an AMI others launch.",
      default: "the account's EBS default",
    },
    kmsKeyArn: {
      type: string,
      description: "The KMS key of the snapshot (implies encrypted).",
      default: "aws/ebs",
    },
    copyRegions: {
      type: arrayOf(string),
      description: "More regions to copy the AMI to, tagged the same.",
      default: "none",
    },
    endpoints: {
      type: ref("oskit:aws:Endpoints"),
      description: "EC2 and EBS endpoints, for tests and partitions (GovCloud, China).",
      default: "the region's",
    },
    tags: {
      type: mapOf(string),
      description: "More tags for the AMIs and snapshots.",
      default: "none",
    },
    launchPermissions: {
      type: ref("oskit:aws:LaunchPermissions"),
      description: "Who else may launch the AMI and its copies: account ids, or public.",
      default: "its owner alone",
    },
    method: {
      type: string,
      description:
        "How the disk becomes a snapshot: `direct` writes only its blocks holding data with the EBS direct APIs; `import` uploads it whole to `bucket` and runs EC2's ImportSnapshot with the `roleName` service role (for accounts that allow S3 and VM Import but not EBS direct).",
      default: '"direct"',
    },
    bucket: {
      type: string,
      description: "The S3 bucket, in `region`, that the import path uploads to.",
      default: "none",
    },
    roleName: {
      type: string,
      description: "The VM Import service role of the import path.",
      default: '"vmimport"',
    },
    parallel: { type: integer, description: "Blocks uploaded at once.", default: "32" },
  },
  requiredInputs: ["artifact"],
  outputs: {
    owner: {
      type: ref("oskit:aws:Owner"),
      description:
        "Who owns the AMI, from the resource's URN: its snapshots and AMIs are tagged `oskit:owner` = `PROJECT/STACK/RESOURCE`.",
    },
    imageId: { type: string, description: "The AMI in `region`." },
    snapshotId: { type: string, description: "Its root snapshot." },
    imageIds: {
      type: mapOf(string),
      description: "Each region's AMI id, the copies included.",
    },
    images: {
      type: mapOf(ref("oskit:aws:RegionImage")),
      description: "Each region's AMI and snapshot.",
    },
    amiName: { type: string, description: "The name registered." },
    resolvedArchitecture: {
      type: string,
      description: "The AMI's architecture: x86_64 or arm64.",
    },
    resolvedBootMode: {
      type: ref("oskit:aws:BootMode"),
      description: "The AMI's boot mode.",
    },
  },
  required: [
    "artifact",
    "region",
    "name",
    "copyRegions",
    "tags",
    "owner",
    "imageId",
    "snapshotId",
    "imageIds",
    "images",
    "amiName",
    "resolvedArchitecture",
    "resolvedBootMode",
  ],
} as const satisfies ResourceSpec;

const gcpImage = {
  description:
    "Uploads an oskit `gce` tarball to Cloud Storage with the resumable protocol (checksummed, skipped when the object is there) and registers it as a GCE image: UEFI_COMPATIBLE, VIRTIO_SCSI_MULTIQUEUE, GVNIC, the system's architecture, labelled with the digest and this stack and resource. A new artifact replaces the image; `pulumi destroy` deletes the image and the object. An interrupted `pulumi up` resumes, and this resource's image of the same artifact is adopted. The token comes from GOOGLE_OAUTH_ACCESS_TOKEN or Application Default Credentials when the provider runs; none is in the state.",
  jsdoc: {
    file: "provider/gcp/resource.ts",
    members: ["ImageArgs", "Image"],
    described: "Image",
    own: ["artifact", "project", "owner"],
  },
  inputs: {
    artifact: {
      type: ref("oskit:index:Artifact"),
      description: 'The tarball to publish: an ImageBuild\'s `artifacts["gce"]`.',
    },
    project: {
      type: string,
      description: "The project of the image.",
      default: "GOOGLE_CLOUD_PROJECT where the plugin runs",
    },
    bucket: {
      type: string,
      description:
        "The Cloud Storage bucket the tarball is uploaded to (kept there while the image lives).",
    },
    name: {
      type: string,
      description: "The image's name (the artifact's short digest and an owner hash are appended).",
      default: "the resource's name",
    },
    family: {
      type: string,
      description: "The image family, so instances can follow the latest image.",
      default: "none",
    },
    storageLocations: {
      type: arrayOf(string),
      description: 'Where the image is stored, e.g. ["eu"].',
      default: "GCE's choice near the bucket",
    },
    architecture: {
      type: string,
      description: "X86_64 or ARM64.",
      default: "read from the disk's EFI binary",
    },
    endpoints: {
      type: ref("oskit:gcp:Endpoints"),
      description: "Cloud Storage and Compute endpoints, for tests and private endpoints.",
      default: "Google's",
    },
    labels: {
      type: mapOf(string),
      description: "More labels (values ≤ 63 lowercase characters).",
      default: "none",
    },
    chunkSize: {
      type: integer,
      description: "Upload request size, a multiple of 256 KiB.",
      default: "8 MiB",
    },
  },
  requiredInputs: ["artifact", "bucket"],
  outputs: {
    owner: {
      type: ref("oskit:gcp:Owner"),
      description:
        "Who owns the image, from the resource's URN: it is labelled `oskit-owner` with PROJECT/STACK/RESOURCE's hash, and its object's metadata names it.",
    },
    imageName: { type: string, description: "The image's name." },
    selfLink: {
      type: string,
      description: "Its self link, what `compute.Instance`'s boot disk takes.",
    },
    objectName: { type: string, description: "The tarball's object in `bucket`." },
    resolvedArchitecture: { type: string, description: "X86_64 or ARM64." },
  },
  required: [
    "artifact",
    "project",
    "bucket",
    "name",
    "labels",
    "owner",
    "imageName",
    "selfLink",
    "objectName",
    "resolvedArchitecture",
  ],
} as const satisfies ResourceSpec;

const azureImage = {
  description:
    "Uploads an oskit `vhd` as a page blob (only its 512-byte pages holding data, in parallel Put Page calls of at most 4 MiB, resumed from what is there) and registers it as a managed image: Linux, generalized, Hyper-V generation V2 for UEFI disks; with `gallery`, also a gallery image version of it. A new artifact replaces the image; `pulumi destroy` deletes the version, the image and the blob. Everything is tagged with the digest and this stack and resource: an interrupted `pulumi up` resumes, and this resource's image of the same artifact is adopted. ARM tokens come from DefaultAzureCredential, the blob is signed with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN when set (else the same credential) when the provider runs; none is in the state.",
  jsdoc: {
    file: AZURE_RESOURCE_FILE,
    members: ["ImageArgs", "Image"],
    described: "Image",
    own: ["artifact", "subscriptionId", "location", "owner"],
  },
  inputs: {
    artifact: {
      type: ref("oskit:index:Artifact"),
      description: 'The disk to publish: an ImageBuild\'s `artifacts["vhd"]`.',
    },
    subscriptionId: {
      type: string,
      description: "The subscription.",
      default: "AZURE_SUBSCRIPTION_ID where the plugin runs",
    },
    resourceGroupName: {
      type: string,
      description: "The resource group of the image (it must exist).",
    },
    location: { type: string, description: "The image's region, e.g. westeurope." },
    storageAccount: {
      type: string,
      description:
        "The storage account the page blob is uploaded to (kept there while the image lives), in the same region.",
    },
    container: { type: string, description: "The blob container (made when missing)." },
    name: {
      type: string,
      description: "The image's name (the artifact's short digest and an owner hash are appended).",
      default: "the resource's name",
    },
    hyperVGeneration: {
      type: string,
      description: "V1 (BIOS) or V2 (UEFI).",
      default: "from the format: V2 for vhd",
    },
    storageAccountType: {
      type: string,
      description: "The storage type of VMs' OS disks made from the image.",
      default: "Standard_LRS",
    },
    diskSizeGB: {
      type: integer,
      description: "The OS disk's size in GiB, when larger than the VHD.",
      default: "the VHD's",
    },
    tags: {
      type: mapOf(string),
      description: "More tags for the image (and its gallery version).",
      default: "none",
    },
    gallery: {
      type: ref("oskit:azure:Gallery"),
      description: "A gallery image version to make of the image, for sharing and replication.",
      default: "none",
    },
    endpoints: {
      type: ref("oskit:azure:Endpoints"),
      description: "ARM and blob endpoints, for tests, sovereign clouds and private endpoints.",
      default: "Azure's public cloud",
    },
    parallel: { type: integer, description: "Put Page calls in flight at once.", default: "8" },
  },
  requiredInputs: ["artifact", "resourceGroupName", "location", "storageAccount", "container"],
  outputs: {
    owner: {
      type: ref("oskit:azure:Owner"),
      description:
        "Who owns the image, from the resource's URN: its image, gallery version and blob are tagged `oskit-owner` = `PROJECT/STACK/RESOURCE`.",
    },
    imageName: { type: string, description: "The managed image's name." },
    imageId: {
      type: string,
      description: "Its ARM id, what a VM's `storageProfile.imageReference.id` takes.",
    },
    blobName: { type: string, description: "The page blob in `container`." },
    blobUrl: { type: string, description: "The blob's URL (no SAS)." },
    resolvedHyperVGeneration: {
      type: string,
      description: "V1 or V2: what VMs of the image must be.",
    },
    galleryImageVersionId: {
      type: string,
      description: "The gallery image version's ARM id, when `gallery` is given.",
    },
  },
  required: [
    "artifact",
    "subscriptionId",
    "resourceGroupName",
    "location",
    "storageAccount",
    "container",
    "name",
    "tags",
    "owner",
    "imageName",
    "imageId",
    "blobName",
    "blobUrl",
    "resolvedHyperVGeneration",
  ],
} as const satisfies ResourceSpec;

/**
 * The resources, by token. Each area adds one entry here and its handler in
 * provider/plugin/resources.ts (the table there is keyed by these tokens, so one without the
 * other does not compile).
 */
export const RESOURCES = {
  "oskit:index:ImageBuild": imageBuild,
  "oskit:local:QemuVm": qemuVm,
  "oskit:aws:Ami": ami,
  "oskit:gcp:Image": gcpImage,
  "oskit:azure:Image": azureImage,
} as const satisfies Readonly<Record<string, ResourceSpec>>;

export type ResourceToken = keyof typeof RESOURCES;

/** An enum value's name in generated SDKs: `kernel+initrd` → `KernelInitrd`. */
function enumName(value: string): string {
  return value
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== "")
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}

/** A property as the package schema writes it. */
function property(spec: PropertySpec): Record<string, unknown> {
  return {
    ...spec.type,
    description:
      spec.default === undefined
        ? spec.description
        : `${spec.description} Default: ${spec.default}.`,
    ...(spec.secret === true && { secret: true }),
  };
}

const properties = (specs: Readonly<Record<string, PropertySpec>>) =>
  Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, property(spec)]));

/** The Pulumi package schema (schema.json's content). */
export function packageSchema(): Record<string, unknown> {
  const enums = Object.entries(TYPES.enums).map(([token, spec]: [string, EnumSpec]) => [
    token,
    {
      type: "string",
      description: spec.description,
      enum: spec.values.map((value) => ({ name: enumName(value), value })),
    },
  ]);
  const objects = Object.entries(TYPES.objects).map(([token, spec]: [string, ObjectSpec]) => [
    token,
    {
      type: "object",
      description: spec.description,
      properties: properties(spec.properties),
      required: spec.required,
    },
  ]);
  const resources = Object.entries(RESOURCES).map(([token, spec]: [string, ResourceSpec]) => [
    token,
    {
      description: spec.description,
      properties: properties({ ...spec.inputs, ...spec.outputs }),
      required: spec.required,
      inputProperties: properties(spec.inputs),
      requiredInputs: spec.requiredInputs,
    },
  ]);
  return {
    name: PACKAGE,
    displayName: "oskit",
    description:
      "Operating systems as typed code: minimal, immutable Linux systems built without Docker.",
    keywords: ["linuxkit", "operating-system", "oci", "category/infrastructure", "kind/native"],
    license: "Apache-2.0",
    types: Object.fromEntries([...enums, ...objects]),
    resources: Object.fromEntries(resources),
  };
}

/** schema.json's text: the package schema, two-space indented, with a final newline. */
export function schemaText(): string {
  return `${JSON.stringify(packageSchema(), null, 2)}\n`;
}
