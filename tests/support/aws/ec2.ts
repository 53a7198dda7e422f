/**
 * The EC2 Query API (service `ec2`, Version 2016-11-15) for what publishing an image needs:
 * DescribeSnapshots, DeleteSnapshot, RegisterImage, DescribeImages, DeregisterImage, CopyImage,
 * CreateTags and DeleteTags, and the import path's ImportSnapshot, DescribeImportSnapshotTasks and
 * CancelImportTask, and ModifyImageAttribute and DescribeImageAttribute for launch permissions —
 * answering XML in EC2's namespace, refusing what EC2 refuses.
 */
import {
  BLOCK_SIZE,
  type FakeBlockDevice,
  type FakeImage,
  type FakeImportTask,
  type FakeSnapshot,
  type Tag,
} from "./state";
import {
  AwsError,
  requestId,
  xmlError,
  xmlEscape,
  type FakeRequest,
  type HandlerContext,
  type Reply,
} from "./wire";

const NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";

type Params = URLSearchParams;
type XmlValue = string | number | boolean | undefined | XmlObject | readonly XmlObject[];
interface XmlObject {
  readonly [name: string]: XmlValue;
}

function xml(value: XmlObject): string {
  return Object.entries(value)
    .map(([name, v]) => {
      if (v === undefined) return "";
      if (Array.isArray(v)) {
        return `<${name}>${(v as readonly XmlObject[]).map((item) => `<item>${xml(item)}</item>`).join("")}</${name}>`;
      }
      if (typeof v === "object") return `<${name}>${xml(v as XmlObject)}</${name}>`;
      return `<${name}>${xmlEscape(String(v))}</${name}>`;
    })
    .join("");
}

function answer(action: string, body: XmlObject): Reply {
  return {
    status: 200,
    headers: { "content-type": "text/xml;charset=UTF-8" },
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NAMESPACE}">` +
      `<requestId>${requestId()}</requestId>${xml(body)}</${action}Response>`,
  };
}

const bad = (code: string, message: string) => new AwsError(400, code, message);
const missing = (name: string) =>
  bad("MissingParameter", `The request must contain the parameter ${name}`);

/** `Prefix.1`, `Prefix.2`, … in index order. */
function list(params: Params, prefix: string): string[] {
  const out: [number, string][] = [];
  for (const [key, value] of params) {
    const m = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)$`).exec(key);
    if (m) out.push([Number(m[1]), value]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** `Prefix.N.Member…` grouped into one URLSearchParams per N, in index order. */
function structs(params: Params, prefix: string): Params[] {
  const groups = new Map<number, Params>();
  for (const [key, value] of params) {
    const m = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)\\.(.+)$`).exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    if (!groups.has(n)) groups.set(n, new URLSearchParams());
    groups.get(n)!.append(m[2]!, value);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

function bool(params: Params, name: string): boolean | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  if (v !== "true" && v !== "false") {
    throw bad(
      "InvalidParameterValue",
      `Value (${v}) for parameter ${name} is invalid. Expected a boolean.`,
    );
  }
  return v === "true";
}

function tagsOf(params: Params, prefix: string): Tag[] {
  return structs(params, prefix).map((t, i) => {
    const key = t.get("Key");
    const value = t.get("Value") ?? "";
    if (key === null || key.length === 0 || key.length > 128) {
      throw bad("InvalidParameterValue", `Tag ${i + 1}: a tag key must be 1 to 128 characters.`);
    }
    if (key.toLowerCase().startsWith("aws:")) {
      throw bad(
        "InvalidParameterValue",
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
    if (value.length > 256) {
      throw bad("InvalidParameterValue", `Tag ${key}: a tag value must be at most 256 characters.`);
    }
    return { Key: key, Value: value };
  });
}

function mergeTags(existing: Tag[], added: readonly Tag[]): Tag[] {
  const map = new Map(existing.map((t) => [t.Key, t.Value]));
  for (const t of added) map.set(t.Key, t.Value);
  if (map.size > 50)
    throw bad(
      "TagLimitExceeded",
      "The maximum number of tags per resource (50) would be exceeded.",
    );
  return [...map].map(([Key, Value]) => ({ Key, Value }));
}

interface TagSpec {
  readonly resourceType: string;
  readonly tags: Tag[];
}

function tagSpecifications(params: Params, allowed: readonly string[]): TagSpec[] {
  return structs(params, "TagSpecification").map((spec) => {
    const resourceType = spec.get("ResourceType") ?? "";
    if (!allowed.includes(resourceType)) {
      throw bad(
        "InvalidParameterValue",
        `'${resourceType}' is not a valid taggable resource type for this operation; expected one of ${allowed.join(", ")}.`,
      );
    }
    return { resourceType, tags: tagsOf(spec, "Tag") };
  });
}

const wildcard = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );

interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

function filters(params: Params, known: readonly string[]): Filter[] {
  return structs(params, "Filter").map((f) => {
    const name = f.get("Name") ?? "";
    if (!known.includes(name) && !name.startsWith("tag:")) {
      throw bad("InvalidParameterValue", `The filter '${name}' is invalid`);
    }
    return { name, values: list(f, "Value") };
  });
}

/** Does a resource pass every filter (any value of each)? */
function passes(
  filtersGiven: readonly Filter[],
  field: (name: string) => string[] | undefined,
  tags: readonly Tag[],
): boolean {
  return filtersGiven.every((f) => {
    let have: string[];
    if (f.name.startsWith("tag:")) {
      const key = f.name.slice(4);
      have = tags.filter((t) => t.Key === key).map((t) => t.Value);
    } else if (f.name === "tag-key") {
      have = tags.map((t) => t.Key);
    } else {
      have = field(f.name) ?? [];
    }
    return f.values.some((v) => have.some((h) => wildcard(v).test(h)));
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();
const tagSet = (tags: readonly Tag[]) => tags.map((t) => ({ key: t.Key, value: t.Value }));

function ownerMatches(ctx: HandlerContext, owners: readonly string[]): boolean {
  return owners.length === 0 || owners.some((o) => o === "self" || o === ctx.accountId);
}

// --- snapshots -------------------------------------------------------------------------------

const SNAPSHOT_ID = /^snap-[0-9a-f]{8}([0-9a-f]{9})?$/;

/** A snapshot as EC2 sees it: in this region and past its visibility delay. */
function visibleSnapshot(
  ctx: HandlerContext,
  region: string,
  id: string,
): FakeSnapshot | undefined {
  const s = ctx.state.snapshots.get(id);
  if (!s || s.region !== region || ctx.state.now() < s.visibleAt) return undefined;
  return ctx.state.refresh(s);
}

function snapshotOrThrow(ctx: HandlerContext, region: string, id: string): FakeSnapshot {
  if (!SNAPSHOT_ID.test(id)) {
    throw bad("InvalidSnapshotID.Malformed", `Invalid id: "${id}" (expecting "snap-...")`);
  }
  const s = visibleSnapshot(ctx, region, id);
  if (!s) throw bad("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
  return s;
}

function describeSnapshots(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const ids = list(p, "SnapshotId");
  const owners = list(p, "Owner");
  const given = filters(p, [
    "snapshot-id",
    "status",
    "owner-id",
    "description",
    "volume-size",
    "encrypted",
    "tag-key",
  ]);
  const chosen =
    ids.length > 0
      ? ids.map((id) => snapshotOrThrow(ctx, req.region, id))
      : [...ctx.state.snapshots.keys()]
          .map((id) => visibleSnapshot(ctx, req.region, id))
          .filter((s) => s !== undefined);
  const shown = chosen.filter(
    (s) =>
      ownerMatches(ctx, owners) &&
      passes(
        given,
        (name) =>
          ({
            "snapshot-id": [s.id],
            status: [s.status],
            "owner-id": [s.ownerId],
            description: [s.description],
            "volume-size": [String(s.volumeSize)],
            encrypted: [String(s.encrypted)],
          })[name],
        s.tags,
      ),
  );
  return answer("DescribeSnapshots", {
    snapshotSet: shown.map((s) => ({
      snapshotId: s.id,
      volumeId: "vol-ffffffff",
      status: s.status,
      statusMessage: s.status === "error" ? s.statusMessage : undefined,
      startTime: iso(s.startTime),
      progress: s.status === "completed" ? "100%" : "0%",
      ownerId: s.ownerId,
      volumeSize: s.volumeSize,
      description: s.description,
      encrypted: s.encrypted,
      kmsKeyId: s.kmsKeyArn,
      tagSet: s.tags.length > 0 ? tagSet(s.tags) : undefined,
      storageTier: "standard",
    })),
  });
}

function imagesUsing(ctx: HandlerContext, snapshotId: string): FakeImage[] {
  return [...ctx.state.images.values()].filter(
    (i) =>
      i.state !== "deregistered" &&
      i.blockDeviceMappings.some((m) => m.Ebs?.SnapshotId === snapshotId),
  );
}

function deleteSnapshot(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const id = p.get("SnapshotId");
  if (id === null) throw missing("snapshotId");
  const snapshot = snapshotOrThrow(ctx, req.region, id);
  const users = imagesUsing(ctx, id);
  if (users.length > 0) {
    throw bad("InvalidSnapshot.InUse", `The snapshot ${id} is currently in use by ${users[0]!.id}`);
  }
  ctx.state.snapshots.delete(snapshot.id);
  return { ...answer("DeleteSnapshot", { return: true }), snapshotId: id };
}

// --- images ----------------------------------------------------------------------------------

const IMAGE_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const ARCHITECTURES = ["i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"];
const BOOT_MODES = ["legacy-bios", "uefi", "uefi-preferred"];
const VOLUME_TYPES = ["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"];
/** What EC2 accepts in an AMI name. */
const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

function checkName(ctx: HandlerContext, region: string, name: string | null): string {
  if (name === null) throw missing("name");
  if (!AMI_NAME.test(name)) {
    throw bad(
      "InvalidAMIName.Malformed",
      `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '[', ']', ' ', '@', ''' and '_'; got '${name}'`,
    );
  }
  const taken = [...ctx.state.images.values()].find(
    (i) => i.region === region && i.name === name && i.state !== "deregistered",
  );
  if (taken)
    throw bad("InvalidAMIName.Duplicate", `AMI name ${name} is already in use by AMI ${taken.id}`);
  return name;
}

function imageOrThrow(ctx: HandlerContext, region: string, id: string): FakeImage {
  if (!IMAGE_ID.test(id))
    throw bad("InvalidAMIID.Malformed", `Invalid id: "${id}" (expecting "ami-...")`);
  const image = ctx.state.images.get(id);
  if (!image || image.region !== region || image.state === "deregistered") {
    throw bad("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
  }
  return ctx.state.refreshImage(image);
}

function blockDeviceMappings(ctx: HandlerContext, region: string, p: Params): FakeBlockDevice[] {
  const seen = new Set<string>();
  return structs(p, "BlockDeviceMapping").map((m) => {
    const deviceName = m.get("DeviceName");
    if (deviceName === null) throw missing("blockDeviceMapping.deviceName");
    if (!/^\/dev\/[a-z0-9]+$/.test(deviceName) && !/^(sd|xvd)[a-z]+\d*$/.test(deviceName)) {
      throw bad("InvalidBlockDeviceMapping", `Invalid device name ${deviceName}`);
    }
    if (seen.has(deviceName)) {
      throw bad(
        "InvalidBlockDeviceMapping",
        `The device '${deviceName}' is used in more than one block-device mapping`,
      );
    }
    seen.add(deviceName);
    const virtualName = m.get("VirtualName") ?? undefined;
    const noDevice = m.get("NoDevice") ?? undefined;
    const ebsKeys = [...m.keys()].filter((k) => k.startsWith("Ebs."));
    if (ebsKeys.length === 0)
      return { DeviceName: deviceName, VirtualName: virtualName, NoDevice: noDevice };
    const snapshotId = m.get("Ebs.SnapshotId") ?? undefined;
    const size = m.get("Ebs.VolumeSize");
    const volumeSize = size === null ? undefined : Number(size);
    const volumeType = m.get("Ebs.VolumeType") ?? undefined;
    if (volumeType !== undefined && !VOLUME_TYPES.includes(volumeType)) {
      throw bad(
        "InvalidParameterValue",
        `Value (${volumeType}) for parameter volumeType is invalid.`,
      );
    }
    if (
      volumeSize !== undefined &&
      (!Number.isInteger(volumeSize) || volumeSize < 1 || volumeSize > 65536)
    ) {
      throw bad("InvalidParameterValue", `Value (${size}) for parameter volumeSize is invalid.`);
    }
    if (snapshotId !== undefined) {
      const snapshot = snapshotOrThrow(ctx, region, snapshotId);
      if (snapshot.status !== "completed") {
        throw bad(
          "IncorrectState",
          `Snapshot '${snapshotId}' is not 'completed' (it is '${snapshot.status}').`,
        );
      }
      if (volumeSize !== undefined && volumeSize < snapshot.volumeSize) {
        throw bad(
          "InvalidBlockDeviceMapping",
          `Volume of size ${volumeSize}GB is smaller than snapshot '${snapshotId}', expect size >= ${snapshot.volumeSize}GB`,
        );
      }
    } else if (volumeSize === undefined) {
      throw bad(
        "InvalidBlockDeviceMapping",
        `The block device mapping for ${deviceName} needs a snapshot id or a volume size`,
      );
    }
    const deleteOnTermination = bool(m, "Ebs.DeleteOnTermination");
    const encrypted = bool(m, "Ebs.Encrypted");
    return {
      DeviceName: deviceName,
      Ebs: {
        ...(snapshotId !== undefined ? { SnapshotId: snapshotId } : {}),
        VolumeSize: volumeSize ?? ctx.state.snapshots.get(snapshotId!)?.volumeSize,
        VolumeType: volumeType ?? "standard",
        DeleteOnTermination: deleteOnTermination ?? true,
        ...(encrypted !== undefined ? { Encrypted: encrypted } : {}),
      },
    };
  });
}

function registerImage(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const name = checkName(ctx, req.region, p.get("Name"));
  const description = p.get("Description") ?? undefined;
  if (description !== undefined && description.length > 255) {
    throw bad("InvalidParameterValue", "The description must be at most 255 characters.");
  }
  const architecture = p.get("Architecture");
  if (architecture !== null && !ARCHITECTURES.includes(architecture)) {
    throw bad(
      "InvalidParameterValue",
      `Value (${architecture}) for parameter architecture is invalid.`,
    );
  }
  const virtualization = p.get("VirtualizationType");
  if (virtualization !== null && virtualization !== "hvm" && virtualization !== "paravirtual") {
    throw bad(
      "InvalidParameterValue",
      `Value (${virtualization}) for parameter virtualizationType is invalid.`,
    );
  }
  const bootMode = p.get("BootMode") ?? undefined;
  if (bootMode !== undefined && !BOOT_MODES.includes(bootMode)) {
    throw bad(
      "InvalidParameterValue",
      `Value (${bootMode}) for parameter bootMode is invalid. Valid values: ${BOOT_MODES.join(", ")}`,
    );
  }
  const imdsSupport = p.get("ImdsSupport") ?? undefined;
  if (imdsSupport !== undefined && imdsSupport !== "v2.0") {
    throw bad(
      "InvalidParameterValue",
      `Value (${imdsSupport}) for parameter imdsSupport is invalid. Valid value: v2.0`,
    );
  }
  const tpmSupport = p.get("TpmSupport") ?? undefined;
  if (tpmSupport !== undefined) {
    if (tpmSupport !== "v2.0") {
      throw bad(
        "InvalidParameterValue",
        `Value (${tpmSupport}) for parameter tpmSupport is invalid. Valid value: v2.0`,
      );
    }
    if (bootMode !== "uefi") {
      throw bad(
        "InvalidParameterCombination",
        "NitroTPM (TpmSupport v2.0) requires the uefi boot mode.",
      );
    }
  }
  if (p.get("ImageLocation") !== null) {
    throw bad(
      "InvalidParameterValue",
      "ImageLocation (instance-store AMIs from S3) is not modelled by this fake.",
    );
  }
  const mappings = blockDeviceMappings(ctx, req.region, p);
  if (mappings.length === 0) throw missing("blockDeviceMapping");
  const rootDeviceName = p.get("RootDeviceName");
  if (rootDeviceName === null) throw missing("rootDeviceName");
  const root = mappings.find((m) => m.DeviceName === rootDeviceName);
  if (!root?.Ebs?.SnapshotId) {
    throw bad(
      "InvalidBlockDeviceMapping",
      `The root device name ${rootDeviceName} does not match a block device mapping with a snapshot`,
    );
  }
  const specs = tagSpecifications(p, ["image", "snapshot"]);
  const now = ctx.state.now();
  const image: FakeImage = {
    id: ctx.state.newId("ami"),
    region: req.region,
    ownerId: ctx.accountId,
    name,
    description,
    architecture: architecture ?? "i386",
    architectureDefaulted: architecture === null,
    rootDeviceName,
    blockDeviceMappings: mappings,
    virtualizationType: virtualization ?? "paravirtual",
    virtualizationDefaulted: virtualization === null,
    enaSupport: bool(p, "EnaSupport"),
    sriovNetSupport: p.get("SriovNetSupport") ?? undefined,
    bootMode,
    imdsSupport,
    tpmSupport,
    tags: specs.filter((s) => s.resourceType === "image").flatMap((s) => s.tags),
    state: ctx.imageAvailableDelayMs > 0 ? "pending" : "available",
    creationDate: now,
    availableAt: now + ctx.imageAvailableDelayMs,
  };
  for (const spec of specs.filter((s) => s.resourceType === "snapshot")) {
    for (const m of mappings) {
      const s = m.Ebs?.SnapshotId ? ctx.state.snapshots.get(m.Ebs.SnapshotId) : undefined;
      if (s) s.tags = mergeTags(s.tags, spec.tags);
    }
  }
  ctx.state.images.set(image.id, image);
  return answer("RegisterImage", { imageId: image.id });
}

function imageXml(i: FakeImage): XmlObject {
  return {
    imageId: i.id,
    imageLocation: `${i.ownerId}/${i.name}`,
    imageState: i.state,
    imageOwnerId: i.ownerId,
    creationDate: iso(i.creationDate),
    isPublic: false,
    architecture: i.architecture,
    imageType: "machine",
    sriovNetSupport: i.sriovNetSupport,
    name: i.name,
    description: i.description,
    rootDeviceType: "ebs",
    rootDeviceName: i.rootDeviceName,
    blockDeviceMapping: i.blockDeviceMappings.map((m) => ({
      deviceName: m.DeviceName,
      virtualName: m.VirtualName,
      noDevice: m.NoDevice,
      ebs: m.Ebs
        ? {
            snapshotId: m.Ebs.SnapshotId,
            volumeSize: m.Ebs.VolumeSize,
            deleteOnTermination: m.Ebs.DeleteOnTermination,
            volumeType: m.Ebs.VolumeType,
            encrypted: m.Ebs.Encrypted ?? false,
          }
        : undefined,
    })),
    virtualizationType: i.virtualizationType,
    tagSet: i.tags.length > 0 ? tagSet(i.tags) : undefined,
    hypervisor: "xen",
    enaSupport: i.enaSupport,
    bootMode: i.bootMode,
    tpmSupport: i.tpmSupport,
    imdsSupport: i.imdsSupport,
    sourceImageId: i.sourceImageId,
    sourceImageRegion: i.sourceRegion,
    platformDetails: "Linux/UNIX",
    usageOperation: "RunInstances",
  };
}

function describeImages(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const ids = list(p, "ImageId");
  const owners = list(p, "Owner");
  const given = filters(p, [
    "name",
    "image-id",
    "state",
    "architecture",
    "description",
    "owner-id",
    "tag-key",
    "boot-mode",
  ]);
  const chosen =
    ids.length > 0
      ? ids.map((id) => imageOrThrow(ctx, req.region, id))
      : [...ctx.state.images.values()]
          .filter((i) => i.region === req.region && i.state !== "deregistered")
          .map((i) => ctx.state.refreshImage(i));
  const shown = chosen.filter(
    (i) =>
      ownerMatches(ctx, owners) &&
      passes(
        given,
        (name) =>
          ({
            name: [i.name],
            "image-id": [i.id],
            state: [i.state],
            architecture: [i.architecture],
            description: i.description === undefined ? [] : [i.description],
            "owner-id": [i.ownerId],
            "boot-mode": i.bootMode === undefined ? [] : [i.bootMode],
          })[name],
        i.tags,
      ),
  );
  return answer("DescribeImages", { imagesSet: shown.map((i) => imageXml(i)) });
}

function deregisterImage(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const id = p.get("ImageId");
  if (id === null) throw missing("imageId");
  const image = imageOrThrow(ctx, req.region, id);
  image.state = "deregistered";
  const results: XmlObject[] = [];
  if (bool(p, "DeleteAssociatedSnapshots") === true) {
    for (const m of image.blockDeviceMappings) {
      const sid = m.Ebs?.SnapshotId;
      if (!sid || !ctx.state.snapshots.has(sid)) continue;
      if (imagesUsing(ctx, sid).length > 0) {
        results.push({ snapshotId: sid, returnCode: "error-generic" });
      } else {
        ctx.state.snapshots.delete(sid);
        results.push({ snapshotId: sid, returnCode: "success" });
      }
    }
  }
  return answer("DeregisterImage", {
    return: true,
    deleteSnapshotResultSet: results.length > 0 ? results : undefined,
  });
}

function copyImage(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const sourceImageId = p.get("SourceImageId");
  if (sourceImageId === null) throw missing("sourceImageId");
  const sourceRegion = p.get("SourceRegion");
  if (sourceRegion === null) throw missing("sourceRegion");
  if (!ctx.regions.includes(sourceRegion)) {
    throw bad("InvalidParameterValue", `Invalid source region: ${sourceRegion}`);
  }
  const clientToken = p.get("ClientToken") ?? undefined;
  if (clientToken !== undefined && clientToken.length > 64) {
    throw bad("InvalidParameterValue", "The client token must be at most 64 characters.");
  }
  if (clientToken !== undefined) {
    const earlier = [...ctx.state.images.values()].find(
      (i) => i.clientToken === clientToken && i.region === req.region,
    );
    if (earlier) {
      if (
        earlier.sourceImageId !== sourceImageId ||
        earlier.sourceRegion !== sourceRegion ||
        earlier.name !== p.get("Name")
      ) {
        throw bad(
          "IdempotentParameterMismatch",
          "The client token was used with different parameters.",
        );
      }
      return answer("CopyImage", { imageId: earlier.id });
    }
  }
  const source = imageOrThrow(ctx, sourceRegion, sourceImageId);
  if (source.state !== "available") {
    throw bad(
      "IncorrectState",
      `Image '${sourceImageId}' is not 'available' (it is '${source.state}').`,
    );
  }
  const name = checkName(ctx, req.region, p.get("Name"));
  const specs = tagSpecifications(p, ["image", "snapshot"]);
  const now = ctx.state.now();
  const mappings = source.blockDeviceMappings.map((m): FakeBlockDevice => {
    const sid = m.Ebs?.SnapshotId;
    const from = sid ? ctx.state.snapshots.get(sid) : undefined;
    if (!m.Ebs || !from) return m;
    const copy: FakeSnapshot = {
      ...from,
      id: ctx.state.newId("snap"),
      region: req.region,
      status: "completed",
      tags: specs.filter((s) => s.resourceType === "snapshot").flatMap((s) => s.tags),
      clientToken: undefined,
      startTime: now,
      visibleAt: now,
      completesAt: now,
      blocks: new Map(from.blocks),
      checksums: new Map(from.checksums),
      copiedFrom: from.id,
    };
    ctx.state.snapshots.set(copy.id, copy);
    return { ...m, Ebs: { ...m.Ebs, SnapshotId: copy.id } };
  });
  const image: FakeImage = {
    ...source,
    id: ctx.state.newId("ami"),
    region: req.region,
    name,
    description: p.get("Description") ?? source.description,
    blockDeviceMappings: mappings,
    tags: mergeTags(
      bool(p, "CopyImageTags") === true ? [...source.tags] : [],
      specs.filter((s) => s.resourceType === "image").flatMap((s) => s.tags),
    ),
    state: ctx.imageAvailableDelayMs > 0 ? "pending" : "available",
    creationDate: now,
    availableAt: now + ctx.imageAvailableDelayMs,
    sourceImageId,
    sourceRegion,
    ...(clientToken !== undefined ? { clientToken } : {}),
  };
  ctx.state.images.set(image.id, image);
  return answer("CopyImage", { imageId: image.id });
}

// --- import -------------------------------------------------------------------------------

const IMPORT_TASK_ID = /^import-snap-[0-9a-f]{8}([0-9a-f]{9})?$/;
const IMPORT_FORMATS = ["RAW", "VMDK", "VHD"];

/** The non-zero 512 KiB blocks of the bytes, as the snapshot keeps them. */
function blocksOf(bytes: Buffer): Map<number, Buffer> {
  const blocks = new Map<number, Buffer>();
  for (let at = 0; at < bytes.length; at += BLOCK_SIZE) {
    const block = Buffer.alloc(BLOCK_SIZE);
    bytes.copy(block, 0, at, Math.min(at + BLOCK_SIZE, bytes.length));
    if (block.some((b) => b !== 0)) blocks.set(at / BLOCK_SIZE, block);
  }
  return blocks;
}

/** What the task does in the background: read its object from S3 (unsigned, as the role would). */
async function readObject(ctx: HandlerContext, task: FakeImportTask): Promise<void> {
  const failure = ctx.state.importFailures.shift();
  if (failure !== undefined) {
    task.outcome = { kind: "failed", message: failure };
    return;
  }
  if (task.format !== "RAW") {
    task.outcome = {
      kind: "failed",
      message: `ClientError: this fake models RAW disks only, not ${task.format}`,
    };
    return;
  }
  if (ctx.s3Endpoint === undefined) {
    task.outcome = {
      kind: "failed",
      message: "ClientError: the fake was started without an S3 endpoint",
    };
    return;
  }
  const url = `${ctx.s3Endpoint}/${encodeURIComponent(task.bucket)}/${task.key.split("/").map(encodeURIComponent).join("/")}`;
  try {
    const res = await fetch(url);
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined);
      task.outcome = {
        kind: "failed",
        message: `ClientError: Disk validation failed [We do not have access to the given resource. Reason ${res.status} ${res.statusText}]: s3://${task.bucket}/${task.key}`,
      };
      return;
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length === 0) {
      task.outcome = {
        kind: "failed",
        message: "ClientError: Disk validation failed [The disk image is empty]",
      };
      return;
    }
    task.outcome = { kind: "read", size: bytes.length, blocks: blocksOf(bytes) };
  } catch (error) {
    task.outcome = {
      kind: "failed",
      message: `ServerError: could not read the object (${String(error)})`,
    };
  }
}

function importSnapshot(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const format = (p.get("DiskContainer.Format") ?? "").toUpperCase();
  if (p.get("DiskContainer.Url") !== null)
    throw bad(
      "InvalidParameterValue",
      "DiskContainer.Url (an HTTP URL) is not modelled by this fake; give a UserBucket.",
    );
  const bucket = p.get("DiskContainer.UserBucket.S3Bucket");
  const key = p.get("DiskContainer.UserBucket.S3Key");
  if (bucket === null || key === null) throw missing("diskContainer.userBucket");
  if (!IMPORT_FORMATS.includes(format))
    throw bad(
      "InvalidParameterValue",
      `Value (${p.get("DiskContainer.Format") ?? ""}) for parameter diskContainer.format is invalid. Valid values: ${IMPORT_FORMATS.join(", ")}`,
    );
  const roleName = p.get("RoleName") ?? "vmimport";
  if (!ctx.importRoles.includes(roleName))
    throw bad(
      "InvalidParameter",
      `The service role ${roleName} provided does not exist or does not have sufficient permissions`,
    );
  const encrypted = bool(p, "Encrypted") ?? false;
  const kmsKeyId = p.get("KmsKeyId") ?? undefined;
  if (kmsKeyId !== undefined && !encrypted)
    throw bad("InvalidParameterCombination", "KmsKeyId requires the Encrypted flag to be set.");
  const clientToken = p.get("ClientToken") ?? undefined;
  if (clientToken !== undefined && clientToken.length > 64)
    throw bad("InvalidParameterValue", "The client token must be at most 64 characters.");
  const parameters = JSON.stringify(
    [...p].filter(([k]) => !["ClientToken", "Action", "Version"].includes(k)).sort(),
  );
  if (clientToken !== undefined) {
    const earlier = [...ctx.state.importTasks.values()].find(
      (t) => t.clientToken === clientToken && t.region === req.region,
    );
    if (earlier) {
      if (earlier.parameters !== parameters)
        throw bad(
          "IdempotentParameterMismatch",
          "The client token was used with different parameters.",
        );
      return answer("ImportSnapshot", importTaskXml(ctx.state.refreshImport(earlier)));
    }
  }
  const specs = tagSpecifications(p, ["import-snapshot-task"]);
  const now = ctx.state.now();
  const task: FakeImportTask = {
    id: ctx.state.newId("import-snap"),
    region: req.region,
    ownerId: ctx.accountId,
    description: p.get("Description") ?? undefined,
    format,
    bucket,
    key,
    roleName,
    encrypted,
    kmsKeyId,
    clientToken,
    parameters,
    tags: specs.flatMap((s) => s.tags),
    status: "active",
    statusMessage: "pending",
    progress: 0,
    snapshotId: undefined,
    createdAt: now,
    endsAt: now + ctx.importDelayMs,
    outcome: undefined,
  };
  ctx.state.importTasks.set(task.id, task);
  void readObject(ctx, task);
  return answer("ImportSnapshot", importTaskXml(task));
}

function importTaskXml(t: FakeImportTask): XmlObject {
  return {
    description: t.description,
    importTaskId: t.id,
    snapshotTaskDetail: {
      description: t.description,
      diskImageSize: t.outcome?.kind === "read" ? t.outcome.size : undefined,
      encrypted: t.encrypted,
      format: t.format,
      kmsKeyId: t.kmsKeyId,
      progress: t.status === "active" ? String(t.progress) : undefined,
      snapshotId: t.snapshotId,
      status: t.status,
      statusMessage:
        t.status === "active" && t.outcome !== undefined
          ? "downloading/converting"
          : t.statusMessage,
      userBucket: { s3Bucket: t.bucket, s3Key: t.key },
    },
    tagSet: t.tags.length > 0 ? tagSet(t.tags) : undefined,
  };
}

function importTaskOrThrow(ctx: HandlerContext, region: string, id: string): FakeImportTask {
  const task = IMPORT_TASK_ID.test(id) ? ctx.state.importTasks.get(id) : undefined;
  if (!task || task.region !== region)
    throw bad(
      "InvalidConversionTaskId.Malformed",
      `The import task id '${id}' is malformed or does not exist.`,
    );
  return ctx.state.refreshImport(task);
}

function describeImportSnapshotTasks(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const ids = [...list(p, "ImportTaskId"), ...list(p, "ImportTaskIds")];
  const tasks =
    ids.length > 0
      ? ids.map((id) => importTaskOrThrow(ctx, req.region, id))
      : [...ctx.state.importTasks.values()]
          .filter((t) => t.region === req.region)
          .map((t) => ctx.state.refreshImport(t));
  return answer("DescribeImportSnapshotTasks", {
    importSnapshotTaskSet: tasks.map((t) => importTaskXml(t)),
  });
}

function cancelImportTask(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const id = p.get("ImportTaskId");
  if (id === null) throw missing("importTaskId");
  const task = importTaskOrThrow(ctx, req.region, id);
  if (task.status !== "active")
    throw bad("IncorrectState", `The import task ${id} is ${task.status} and cannot be cancelled.`);
  const previous = task.status;
  task.status = "deleting";
  task.statusMessage = `Cancelled: ${p.get("CancelReason") ?? "by the user"}`;
  return answer("CancelImportTask", {
    importTaskId: id,
    previousState: previous,
    state: "deleting",
  });
}

// --- launch permissions ----------------------------------------------------------------------

/** A launch permission item: `UserId` of 12 digits, or `Group` `all`, as EC2 accepts them. */
function permissionItem(item: Params): { userId?: string; group?: string } {
  const userId = item.get("UserId");
  const group = item.get("Group");
  if (userId !== null) {
    if (!/^\d{12}$/.test(userId))
      throw bad(
        "InvalidAMIAttributeItemValue",
        `Invalid attribute item value "${userId}" for userId item type.`,
      );
    return { userId };
  }
  if (group !== null) {
    if (group !== "all")
      throw bad(
        "InvalidAMIAttributeItemValue",
        `Invalid attribute item value "${group}" for group item type.`,
      );
    return { group };
  }
  throw bad("InvalidParameterValue", "A launch permission names a UserId or a Group.");
}

function modifyImageAttribute(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const id = p.get("ImageId");
  if (id === null) throw missing("imageId");
  const image = imageOrThrow(ctx, req.region, id);
  const attribute = p.get("Attribute");
  if (attribute !== null && attribute !== "launchPermission")
    throw bad("InvalidParameterValue", `The fake models only launchPermission, not ${attribute}.`);
  const add = structs(p, "LaunchPermission.Add").map(permissionItem);
  const remove = structs(p, "LaunchPermission.Remove").map(permissionItem);
  if (add.length === 0 && remove.length === 0)
    throw bad("InvalidParameterCombination", "No attributes specified.");
  const now = image.launchPermission ?? { userIds: [], groups: [] };
  const userIds = new Set(now.userIds);
  const groups = new Set(now.groups);
  for (const item of remove) {
    if (item.userId !== undefined) userIds.delete(item.userId);
    if (item.group !== undefined) groups.delete(item.group);
  }
  for (const item of add) {
    if (item.userId !== undefined) userIds.add(item.userId);
    if (item.group !== undefined) groups.add(item.group);
  }
  image.launchPermission = { userIds: [...userIds].sort(), groups: [...groups].sort() };
  return answer("ModifyImageAttribute", { return: true });
}

function describeImageAttribute(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const id = p.get("ImageId");
  if (id === null) throw missing("imageId");
  const attribute = p.get("Attribute");
  if (attribute === null) throw missing("attribute");
  if (attribute !== "launchPermission")
    throw bad("InvalidParameterValue", `The fake models only launchPermission, not ${attribute}.`);
  const image = imageOrThrow(ctx, req.region, id);
  const { userIds, groups } = image.launchPermission ?? { userIds: [], groups: [] };
  return answer("DescribeImageAttribute", {
    imageId: id,
    launchPermission: [
      ...userIds.map((userId) => ({ userId })),
      ...groups.map((group) => ({ group })),
    ],
  });
}

// --- tags ------------------------------------------------------------------------------------

function taggable(ctx: HandlerContext, region: string, id: string): { tags: Tag[] } {
  if (id.startsWith("snap-")) return snapshotOrThrow(ctx, region, id);
  if (id.startsWith("ami-")) return imageOrThrow(ctx, region, id);
  throw bad("InvalidID", `The ID '${id}' is not valid`);
}

function createTags(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const ids = list(p, "ResourceId");
  if (ids.length === 0) throw missing("resourceIdSet");
  const tags = tagsOf(p, "Tag");
  if (tags.length === 0) throw missing("tagSet");
  const resources = ids.map((id) => taggable(ctx, req.region, id));
  for (const r of resources) r.tags = mergeTags(r.tags, tags);
  return answer("CreateTags", { return: true });
}

function deleteTags(ctx: HandlerContext, req: FakeRequest, p: Params): Reply {
  const ids = list(p, "ResourceId");
  if (ids.length === 0) throw missing("resourceIdSet");
  const given = structs(p, "Tag").map((t) => ({ key: t.get("Key"), value: t.get("Value") }));
  for (const r of ids.map((id) => taggable(ctx, req.region, id))) {
    r.tags = r.tags.filter(
      (t) =>
        given.length > 0 &&
        !given.some((g) => g.key === t.Key && (g.value === null || g.value === t.Value)),
    );
  }
  return answer("DeleteTags", { return: true });
}

const OPERATIONS = {
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  RegisterImage: registerImage,
  DescribeImages: describeImages,
  DeregisterImage: deregisterImage,
  CopyImage: copyImage,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  ImportSnapshot: importSnapshot,
  DescribeImportSnapshotTasks: describeImportSnapshotTasks,
  CancelImportTask: cancelImportTask,
  ModifyImageAttribute: modifyImageAttribute,
  DescribeImageAttribute: describeImageAttribute,
} as const satisfies Record<string, (ctx: HandlerContext, req: FakeRequest, p: Params) => Reply>;

/** The parameters of an EC2 request: the form body of a POST, or the query of a GET. */
export function ec2Params(req: FakeRequest): Params {
  return req.method === "POST" ? new URLSearchParams(req.body.toString("utf8")) : req.query;
}

/** Answers one EC2 request; errors come back as EC2's XML error document. */
export function handleEc2(ctx: HandlerContext, req: FakeRequest, params: Params): Reply {
  try {
    const action = params.get("Action");
    if (action === null)
      throw bad("MissingAction", "The request must contain the parameter Action");
    if (params.get("Version") === null) throw missing("Version");
    if (!Object.hasOwn(OPERATIONS, action)) {
      throw bad("InvalidAction", `The action ${action} is not valid for this web service.`);
    }
    return OPERATIONS[action as keyof typeof OPERATIONS](ctx, req, params);
  } catch (error) {
    if (error instanceof AwsError) return xmlError(error);
    throw error;
  }
}
