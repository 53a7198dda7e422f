/**
 * Upload figures: hello's `aws` disk sent to the strict local EC2/EBS fake (tests/support/aws)
 * through the real AWS SDK, against the bytes of its non-zero blocks at the API's granularity
 * (512 KiB EBS blocks), counted here independently of the uploader.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { sdkClients } from "../provider/aws/clients";
import { uploadSnapshot } from "../provider/aws/ebs-upload";
import { startAwsFake } from "../tests/support/aws";

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
