/**
 * The few EBS, EC2 and S3 calls oskit makes, as small interfaces (tests hand in their own), and the
 * real clients behind them. The AWS SDK is loaded by the functions that make a client, never when
 * this module loads, so programs that do not publish to AWS never load it. Credentials come from
 * the SDK's default chain inside the client: nothing here takes, stores or logs them.
 */
import type {
  CompleteSnapshotCommandInput,
  CompleteSnapshotCommandOutput,
  PutSnapshotBlockCommandInput,
  StartSnapshotCommandInput,
  StartSnapshotCommandOutput,
} from "@aws-sdk/client-ebs";
import type {
  CancelImportTaskCommandInput,
  CopyImageCommandInput,
  CreateTagsCommandInput,
  DeleteSnapshotCommandInput,
  DeleteTagsCommandInput,
  DescribeImageAttributeCommandInput,
  DescribeImageAttributeCommandOutput,
  DeregisterImageCommandInput,
  DescribeImagesCommandInput,
  DescribeImagesCommandOutput,
  DescribeImportSnapshotTasksCommandInput,
  DescribeImportSnapshotTasksCommandOutput,
  DescribeSnapshotsCommandInput,
  DescribeSnapshotsCommandOutput,
  ImportSnapshotCommandInput,
  ImportSnapshotCommandOutput,
  ModifyImageAttributeCommandInput,
  RegisterImageCommandInput,
} from "@aws-sdk/client-ec2";
import type {
  AbortMultipartUploadCommandInput,
  CompleteMultipartUploadCommandInput,
  CreateMultipartUploadCommandInput,
  DeleteObjectCommandInput,
  HeadObjectCommandInput,
  UploadPartCommandInput,
} from "@aws-sdk/client-s3";

/** The EBS direct API calls of an upload. */
export interface EbsApi {
  startSnapshot(input: StartSnapshotCommandInput): Promise<StartSnapshotCommandOutput>;
  putSnapshotBlock(
    input: PutSnapshotBlockCommandInput & { BlockData: Uint8Array },
  ): Promise<unknown>;
  completeSnapshot(input: CompleteSnapshotCommandInput): Promise<CompleteSnapshotCommandOutput>;
}

/** The EC2 calls of registering, copying, finding and removing images and snapshots. */
export interface Ec2Api {
  describeSnapshots(input: DescribeSnapshotsCommandInput): Promise<DescribeSnapshotsCommandOutput>;
  deleteSnapshot(input: DeleteSnapshotCommandInput): Promise<unknown>;
  registerImage(input: RegisterImageCommandInput): Promise<{ ImageId?: string | undefined }>;
  describeImages(input: DescribeImagesCommandInput): Promise<DescribeImagesCommandOutput>;
  deregisterImage(input: DeregisterImageCommandInput): Promise<unknown>;
  copyImage(input: CopyImageCommandInput): Promise<{ ImageId?: string | undefined }>;
  createTags(input: CreateTagsCommandInput): Promise<unknown>;
  /** In-place changes: tags removed, launch permissions read and set. */
  deleteTags(input: DeleteTagsCommandInput): Promise<unknown>;
  describeImageAttribute(
    input: DescribeImageAttributeCommandInput,
  ): Promise<DescribeImageAttributeCommandOutput>;
  modifyImageAttribute(input: ModifyImageAttributeCommandInput): Promise<unknown>;
  /** The import path (`method: "import"`): a disk in S3 into a snapshot. */
  importSnapshot(input: ImportSnapshotCommandInput): Promise<ImportSnapshotCommandOutput>;
  describeImportSnapshotTasks(
    input: DescribeImportSnapshotTasksCommandInput,
  ): Promise<DescribeImportSnapshotTasksCommandOutput>;
  cancelImportTask(input: CancelImportTaskCommandInput): Promise<unknown>;
}

/** The S3 calls of the import path: a multipart upload of the disk, found by HEAD, then deleted. */
export interface S3Api {
  headObject(
    input: HeadObjectCommandInput,
  ): Promise<{ ContentLength?: number | undefined; Metadata?: Record<string, string> | undefined }>;
  createMultipartUpload(
    input: CreateMultipartUploadCommandInput,
  ): Promise<{ UploadId?: string | undefined }>;
  uploadPart(
    input: UploadPartCommandInput & { Body: Uint8Array },
  ): Promise<{ ETag?: string | undefined }>;
  completeMultipartUpload(input: CompleteMultipartUploadCommandInput): Promise<unknown>;
  abortMultipartUpload(input: AbortMultipartUploadCommandInput): Promise<unknown>;
  deleteObject(input: DeleteObjectCommandInput): Promise<unknown>;
}

/** Where the clients connect: a region, and endpoint overrides (tests, GovCloud, China). */
export interface AwsEndpoints {
  /** EC2's endpoint, e.g. https://ec2.us-gov-west-1.amazonaws.com. @default the region's */
  readonly ec2?: string;
  /** EBS direct's endpoint. @default the region's */
  readonly ebs?: string;
  /** S3's endpoint (the import path), addressed path-style. @default the region's */
  readonly s3?: string;
}

/** Makes the clients of a region (tests give fakes). */
export interface AwsClients {
  ebs(region: string): Promise<EbsApi>;
  ec2(region: string): Promise<Ec2Api>;
  /** S3, for the import path. */
  s3(region: string): Promise<S3Api>;
}

const requestHandler = { connectionTimeout: 10_000, requestTimeout: 120_000 };

/** The real clients, the SDK loaded on first use; `endpoints` apply to every region. */
export function sdkClients(endpoints: AwsEndpoints = {}): AwsClients {
  return {
    async ebs(region) {
      const sdk = await import("@aws-sdk/client-ebs");
      const client = new sdk.EBSClient({
        region,
        maxAttempts: 1,
        requestHandler,
        ...(endpoints.ebs !== undefined && { endpoint: endpoints.ebs }),
      });
      return {
        startSnapshot: (input) => client.send(new sdk.StartSnapshotCommand(input)),
        putSnapshotBlock: (input) => client.send(new sdk.PutSnapshotBlockCommand(input)),
        completeSnapshot: (input) => client.send(new sdk.CompleteSnapshotCommand(input)),
      };
    },
    async ec2(region) {
      const sdk = await import("@aws-sdk/client-ec2");
      const client = new sdk.EC2Client({
        region,
        maxAttempts: 1,
        requestHandler,
        ...(endpoints.ec2 !== undefined && { endpoint: endpoints.ec2 }),
      });
      return {
        describeSnapshots: (input) => client.send(new sdk.DescribeSnapshotsCommand(input)),
        deleteSnapshot: (input) => client.send(new sdk.DeleteSnapshotCommand(input)),
        registerImage: (input) => client.send(new sdk.RegisterImageCommand(input)),
        describeImages: (input) => client.send(new sdk.DescribeImagesCommand(input)),
        deregisterImage: (input) => client.send(new sdk.DeregisterImageCommand(input)),
        copyImage: (input) => client.send(new sdk.CopyImageCommand(input)),
        createTags: (input) => client.send(new sdk.CreateTagsCommand(input)),
        deleteTags: (input) => client.send(new sdk.DeleteTagsCommand(input)),
        describeImageAttribute: (input) =>
          client.send(new sdk.DescribeImageAttributeCommand(input)),
        modifyImageAttribute: (input) => client.send(new sdk.ModifyImageAttributeCommand(input)),
        importSnapshot: (input) => client.send(new sdk.ImportSnapshotCommand(input)),
        describeImportSnapshotTasks: (input) =>
          client.send(new sdk.DescribeImportSnapshotTasksCommand(input)),
        cancelImportTask: (input) => client.send(new sdk.CancelImportTaskCommand(input)),
      };
    },
    async s3(region) {
      const sdk = await import("@aws-sdk/client-s3");
      const client = new sdk.S3Client({
        region,
        maxAttempts: 1,
        requestHandler,
        // Parts carry a Content-MD5 that S3 checks; no trailing checksums (aws-chunked bodies).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        ...(endpoints.s3 !== undefined && { endpoint: endpoints.s3, forcePathStyle: true }),
      });
      return {
        headObject: (input) => client.send(new sdk.HeadObjectCommand(input)),
        createMultipartUpload: (input) => client.send(new sdk.CreateMultipartUploadCommand(input)),
        uploadPart: (input) => client.send(new sdk.UploadPartCommand(input)),
        completeMultipartUpload: (input) =>
          client.send(new sdk.CompleteMultipartUploadCommand(input)),
        abortMultipartUpload: (input) => client.send(new sdk.AbortMultipartUploadCommand(input)),
        deleteObject: (input) => client.send(new sdk.DeleteObjectCommand(input)),
      };
    },
  };
}
