/**
 * qcow2 version 3 (QEMU's docs/interop/qcow2.txt) of a sparse disk: 64 KiB clusters, 16-bit
 * refcounts, laid out as `qemu-img convert` does — header, refcount table, refcount blocks, L1
 * table, L2 tables, then only the clusters holding data, each counted once (refcount 1, so every
 * L1 and L2 entry carries the COPIED flag). All numbers big-endian.
 */
import type { Sink } from "../tar/writer";
import type { SparseDisk } from "./sparse-disk";

const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const COPIED = 1n << 63n;
const HEADER_LENGTH = 104;

const clustersFor = (bytes: number) => Math.ceil(bytes / CLUSTER);

/** Writes the qcow2 image of a disk to a sink. */
export async function writeQcow2(disk: SparseDisk, sink: Sink): Promise<void> {
  const data = new Set<number>();
  for (const run of disk.allocation()) {
    const first = Math.floor(run.offset / CLUSTER);
    const last = Math.floor((run.offset + run.length - 1) / CLUSTER);
    for (let c = first; c <= last; c++) data.add(c);
  }
  const dataClusters = [...data].sort((a, b) => a - b);
  const l2Tables = [...new Set(dataClusters.map((c) => Math.floor(c / L2_ENTRIES)))];
  const l1Size = Math.ceil(disk.size / (CLUSTER * L2_ENTRIES));
  const l1Clusters = Math.max(1, clustersFor(l1Size * 8));

  let refBlocks = 1;
  let refTableClusters = 1;
  for (;;) {
    const total =
      1 + refTableClusters + refBlocks + l1Clusters + l2Tables.length + dataClusters.length;
    const blocks = Math.ceil(total / REFCOUNTS_PER_BLOCK);
    const tableClusters = Math.max(1, clustersFor(blocks * 8));
    if (blocks === refBlocks && tableClusters === refTableClusters) break;
    refBlocks = blocks;
    refTableClusters = tableClusters;
  }
  const refTableAt = 1;
  const refBlocksAt = refTableAt + refTableClusters;
  const l1At = refBlocksAt + refBlocks;
  const l2At = l1At + l1Clusters;
  const dataAt = l2At + l2Tables.length;
  const total = dataAt + dataClusters.length;

  const header = Buffer.alloc(CLUSTER);
  header.write("QFI\xfb", 0, "latin1");
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(CLUSTER_BITS, 20);
  header.writeBigUInt64BE(BigInt(disk.size), 24);
  header.writeUInt32BE(l1Size, 36);
  header.writeBigUInt64BE(BigInt(l1At * CLUSTER), 40);
  header.writeBigUInt64BE(BigInt(refTableAt * CLUSTER), 48);
  header.writeUInt32BE(refTableClusters, 56);
  header.writeUInt32BE(4, 96);
  header.writeUInt32BE(HEADER_LENGTH, 100);
  await sink(header);

  const refTable = Buffer.alloc(refTableClusters * CLUSTER);
  for (let i = 0; i < refBlocks; i++)
    refTable.writeBigUInt64BE(BigInt((refBlocksAt + i) * CLUSTER), i * 8);
  await sink(refTable);
  const refcounts = Buffer.alloc(refBlocks * CLUSTER);
  for (let c = 0; c < total; c++) refcounts.writeUInt16BE(1, c * 2);
  await sink(refcounts);

  const l1 = Buffer.alloc(l1Clusters * CLUSTER);
  l2Tables.forEach((index, i) =>
    l1.writeBigUInt64BE(BigInt((l2At + i) * CLUSTER) | COPIED, index * 8),
  );
  await sink(l1);
  const hostOf = new Map(dataClusters.map((c, i) => [c, dataAt + i]));
  for (const index of l2Tables) {
    const l2 = Buffer.alloc(CLUSTER);
    for (let e = 0; e < L2_ENTRIES; e++) {
      const host = hostOf.get(index * L2_ENTRIES + e);
      if (host !== undefined) l2.writeBigUInt64BE(BigInt(host * CLUSTER) | COPIED, e * 8);
    }
    await sink(l2);
  }
  for (const c of dataClusters) {
    const length = Math.min(CLUSTER, disk.size - c * CLUSTER);
    const bytes = disk.read(c * CLUSTER, length);
    await sink(length === CLUSTER ? bytes : Buffer.concat([bytes, Buffer.alloc(CLUSTER - length)]));
  }
}
