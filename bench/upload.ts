/**
 * Upload figures: hello's `aws` disk sent to the strict local EC2/EBS fake (tests/support/aws)
 * through the real AWS SDK, and its `vhd` to a real Azurite through @azure/storage-blob, each
 * against the bytes of its non-zero blocks at the API's granularity (512 KiB EBS blocks, 512-byte
 * pages), counted here independently of the uploader: the fake's received bytes; the Put Page
 * bodies handed to the SDK, and the ranges Azurite then reports written.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { sdkClients } from "../provider/aws/clients";
import { uploadSnapshot } from "../provider/aws/ebs-upload";
import { pageBlobClient, type PageBlobApi } from "../provider/azure/blob";
import { blobNameOf, uploadVhd } from "../provider/azure/upload";
import { startAwsFake } from "../tests/support/aws";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from "../tests/support/azurite";

/** Bytes of the blocks of `size` bytes that hold a non-zero byte (the last block counted whole). */
export async function nonZeroBlockBytes(path: string, size: number): Promise<number> {
  let blocks = 0;
  let index = -1;
  let at = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: size })) {
    const data = chunk as Buffer;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0) continue;
      const block = Math.floor((at + i) / size);
      if (block !== index) {
        index = block;
        blocks += 1;
      }
      i = (block + 1) * size - at - 1; // skip to the next block
    }
    at += data.length;
  }
  return blocks * size;
}

export interface UploadFigures {
  readonly ratio: number;
  readonly bytesSent: number;
  readonly nonZeroBytes: number;
  readonly blocksWritten: number;
  readonly blocksTotal: number;
  readonly mibPerSecond: number;
}

/** Uploads a raw disk to a fresh fake and measures what was sent. */
export async function awsUpload(path: string, digest: string): Promise<UploadFigures> {
  const fake = await startAwsFake({ region: "eu-west-1" });
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = fake.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = fake.credentials.secretAccessKey;
  try {
    const clients = sdkClients({ ebs: fake.endpoint, ec2: fake.endpoint });
    const result = await uploadSnapshot(
      {
        path,
        digest,
        diskSize: (await stat(path)).size,
        description: "oskit bench",
        tags: { "oskit:bench": "hello" },
      },
      await clients.ebs(fake.region),
      await clients.ec2(fake.region),
    );
    const nonZeroBytes = await nonZeroBlockBytes(path, result.blockSize);
    const received = fake.state.bytesReceived;
    return {
      ratio: received / nonZeroBytes,
      bytesSent: received,
      nonZeroBytes,
      blocksWritten: result.blocksWritten,
      blocksTotal: result.blocksTotal,
      mibPerSecond: received / 1024 / 1024 / result.seconds,
    };
  } finally {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    await fake.close();
  }
}

export interface AzureUploadFigures {
  readonly ratio: number;
  readonly bytesSent: number;
  /** What Get Page Ranges reports written once the upload is done. */
  readonly bytesInRanges: number;
  readonly nonZeroBytes: number;
  readonly vhdBytes: number;
  readonly putPages: number;
  readonly mibPerSecond: number;
}

/** Uploads a fixed VHD to a fresh Azurite and measures what was sent. */
export async function azureUpload(path: string, digest: string): Promise<AzureUploadFigures> {
  const azurite = await startAzurite();
  try {
    const real = await pageBlobClient({
      account: AZURITE_ACCOUNT,
      container: "bench",
      blob: blobNameOf(digest),
      blobEndpoint: azurite.blobEndpoint,
      accountKey: AZURITE_KEY,
    });
    let bytesSent = 0;
    const counted: PageBlobApi = {
      ...real,
      url: real.url,
      uploadPages: async (data, offset, md5) => {
        await real.uploadPages(data, offset, md5);
        bytesSent += data.length;
      },
    };
    const result = await uploadVhd({ path, digest }, counted);
    const bytesInRanges = (await real.pageRanges()).reduce((n, r) => n + r.length, 0);
    const nonZeroBytes = await nonZeroBlockBytes(path, 512);
    return {
      ratio: bytesSent / nonZeroBytes,
      bytesSent,
      bytesInRanges,
      nonZeroBytes,
      vhdBytes: result.size,
      putPages: result.putPages,
      mibPerSecond: bytesSent / 1024 / 1024 / result.seconds,
    };
  } finally {
    await azurite.stop();
  }
}
