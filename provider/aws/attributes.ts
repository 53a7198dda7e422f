/**
 * What changes on an AMI in place: who may launch it (ModifyImageAttribute's launchPermission)
 * and the user's tags on the images and snapshots (CreateTags/DeleteTags). oskit's own tags are
 * never touched here.
 */
import type { Ec2Api } from "./clients";
import { ec2Tags } from "./register";
import { withRetries, type RetryPolicy } from "./retry";

/** Who may launch an AMI besides its owner. */
export interface LaunchPermissions {
  /** AWS account ids (12 digits) that may launch it. @default none */
  readonly accounts?: readonly string[];
  /** Anyone may launch it (a public AMI). @default false */
  readonly public?: boolean;
}

/** An AWS account id: 12 digits. */
export const ACCOUNT_ID = /^\d{12}$/;

/**
 * Makes the image's launch permissions exactly `wanted`: reads them (DescribeImageAttribute), then
 * adds and removes what differs in one ModifyImageAttribute, or calls nothing when they agree.
 */
export async function setLaunchPermissions(
  ec2: Ec2Api,
  imageId: string,
  wanted: LaunchPermissions,
  policy?: RetryPolicy,
): Promise<{ added: string[]; removed: string[] }> {
  const now = await withRetries(
    "DescribeImageAttribute",
    () => ec2.describeImageAttribute({ ImageId: imageId, Attribute: "launchPermission" }),
    policy,
  );
  const has = new Set<string>();
  for (const p of now.LaunchPermissions ?? []) {
    if (p.UserId !== undefined) has.add(p.UserId);
    if (p.Group === "all") has.add("public");
  }
  const want = new Set<string>([...(wanted.accounts ?? []), ...(wanted.public ? ["public"] : [])]);
  const added = [...want].filter((x) => !has.has(x));
  const removed = [...has].filter((x) => !want.has(x));
  const items = (ids: string[]) =>
    ids.map((id) => (id === "public" ? { Group: "all" as const } : { UserId: id }));
  if (added.length > 0 || removed.length > 0)
    await withRetries(
      "ModifyImageAttribute",
      () =>
        ec2.modifyImageAttribute({
          ImageId: imageId,
          LaunchPermission: {
            ...(added.length > 0 && { Add: items(added) }),
            ...(removed.length > 0 && { Remove: items(removed) }),
          },
        }),
      policy,
    );
  return { added, removed };
}

/**
 * Brings the user's tags on the resources from `olds` to `news`: keys no longer given are
 * deleted, new and changed ones set.
 */
export async function retag(
  ec2: Ec2Api,
  resources: readonly string[],
  olds: Readonly<Record<string, string>>,
  news: Readonly<Record<string, string>>,
  policy?: RetryPolicy,
): Promise<void> {
  const ids = resources.filter((id) => id !== "");
  if (ids.length === 0) return;
  const gone = Object.keys(olds).filter((key) => !Object.hasOwn(news, key));
  const set = Object.fromEntries(Object.entries(news).filter(([key, v]) => olds[key] !== v));
  if (gone.length > 0)
    await withRetries(
      "DeleteTags",
      () => ec2.deleteTags({ Resources: ids, Tags: gone.map((Key) => ({ Key })) }),
      policy,
    );
  if (Object.keys(set).length > 0)
    await withRetries(
      "CreateTags",
      () => ec2.createTags({ Resources: ids, Tags: ec2Tags(set) }),
      policy,
    );
}
