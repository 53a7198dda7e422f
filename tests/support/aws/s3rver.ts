/**
 * A real S3 for the import path's tests: s3rver on 127.0.0.1 (a free port, a temporary
 * directory, one bucket), checking SigV4 with the key pair S3RVER/S3RVER (start the AWS fake with
 * those credentials so one chain signs for both). It counts the UploadPart requests and how many
 * were in flight at once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** s3rver's fixed key pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  readonly httpServer: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export interface S3Server {
  /** `http://127.0.0.1:PORT`, addressed path-style. */
  readonly endpoint: string;
  readonly bucket: string;
  /** UploadPart requests received, and the most in flight at once. */
  readonly parts: { received: number; maxInFlight: number };
  /** Every request: method and path with query. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startS3rver(bucket = "oskit-import"): Promise<S3Server> {
  const S3rver = createRequire(__filename)("s3rver") as S3rverClass;
  const directory = mkdtempSync(join(tmpdir(), "oskit-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const parts = { received: 0, maxInFlight: 0 };
  const requests: string[] = [];
  let inFlight = 0;
  server.httpServer.prependListener("request", (req, res) => {
    requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    if (req.method !== "PUT" || !/[?&]partNumber=/.test(req.url ?? "")) return;
    parts.received += 1;
    inFlight += 1;
    parts.maxInFlight = Math.max(parts.maxInFlight, inFlight);
    res.on("close", () => (inFlight -= 1));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    parts,
    requests,
    close: async () => {
      server.httpServer.closeAllConnections();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
