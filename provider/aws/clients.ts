/**
 * The few EBS and EC2 calls oskit makes, as small interfaces (tests hand in their own), and the
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
  CopyImageCommandInput,
  CreateTagsCommandInput,
  DeleteSnapshotCommandInput,
  DeregisterImageCommandInput,
  DescribeImagesCommandInput,
  DescribeImagesCommandOutput,
  DescribeSnapshotsCommandInput,
  DescribeSnapshotsCommandOutput,
  RegisterImageCommandInput,
} from "@aws-sdk/client-ec2";

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
}

/** Where the clients connect: a region, and endpoint overrides (tests, GovCloud, China). */
export interface AwsEndpoints {
  /** EC2's endpoint, e.g. https://ec2.us-gov-west-1.amazonaws.com. @default the region's */
  readonly ec2?: string;
  /** EBS direct's endpoint. @default the region's */
  readonly ebs?: string;
}

/** Makes the clients of a region (tests give fakes). */
export interface AwsClients {
  ebs(region: string): Promise<EbsApi>;
  ec2(region: string): Promise<Ec2Api>;
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
      };
    },
  };
}
