import { Digest } from "../../manifest/digest";
import { ContentStore, defaultStoreRoot } from "../../resolve/store/store";
import type { Io } from "../io";

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]!}`;
}

async function open(io: Io, root: string | undefined): Promise<ContentStore> {
  return ContentStore.open(root ?? defaultStoreRoot(io.env));
}

/** `oskit store ls`: each reference, its digest and the size of everything it reaches. */
export async function storeLs(io: Io, options: { readonly store?: string }): Promise<number> {
  const store = await open(io, options.store);
  const rows = [["REFERENCE", "DIGEST", "SIZE"]];
  for (const { name, descriptor } of await store.list()) {
    let total = 0;
    for (const digest of await store.reachable(descriptor))
      total += (await store.blobSize(Digest.parse(digest))) ?? 0;
    rows.push([name, Digest.parse(descriptor.digest).toString().slice(0, 19), size(total)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows)
    io.stdout.write(
      `${row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]!) : c)).join("  ")}\n`,
    );
  return 0;
}

/** `oskit store rm REF…`: removes references (their blobs go at the next gc). */
export async function storeRm(
  io: Io,
  refs: readonly string[],
  options: { readonly store?: string },
): Promise<number> {
  const store = await open(io, options.store);
  const removed = await store.untag(refs);
  for (const ref of removed) io.stdout.write(`removed ${ref}\n`);
  const missing = refs.length - removed.length;
  if (missing > 0) io.stderr.write(`oskit: ${missing} of the references were not in the store\n`);
  return missing > 0 ? 1 : 0;
}

/** `oskit store gc`: removes blobs no reference reaches. */
export async function storeGc(
  io: Io,
  options: { readonly store?: string; readonly now?: boolean },
): Promise<number> {
  const store = await open(io, options.store);
  const result = await store.gc({ graceSeconds: options.now === true ? 0 : 3600 });
  io.stdout.write(
    `removed ${result.removed} blob${result.removed === 1 ? "" : "s"}, freed ${size(result.freedBytes)}; ${result.kept} kept\n`,
  );
  return 0;
}
