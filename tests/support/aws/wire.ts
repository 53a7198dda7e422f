/** What the fake's service handlers receive and answer, independent of node:http. */
import { randomUUID } from "node:crypto";
import type { FakeState } from "./state";

export interface FakeRequest {
  readonly method: string;
  /** Path without the query, as sent (percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lowercased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** The region of the request's credential scope. */
  readonly region: string;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
  /** The error code, when the reply is an error. */
  readonly errorCode?: string;
  readonly snapshotId?: string;
  readonly blockIndex?: number;
}

export interface HandlerContext {
  readonly state: FakeState;
  readonly accountId: string;
  /** Every region the fake serves (CopyImage copies between them). */
  readonly regions: readonly string[];
  /** Delay between CompleteSnapshot and `completed`. */
  readonly completionDelayMs: number;
  /** Delay between StartSnapshot and the snapshot showing in DescribeSnapshots. */
  readonly visibilityDelayMs: number;
  /** Delay between RegisterImage/CopyImage and `available`. */
  readonly imageAvailableDelayMs: number;
  /** Where ImportSnapshot reads S3 objects (path-style): an s3rver. */
  readonly s3Endpoint: string | undefined;
  /** The least time from ImportSnapshot to the task's end. */
  readonly importDelayMs: number;
  /** The IAM roles VM Import may assume. */
  readonly importRoles: readonly string[];
}

/** An error a handler throws to answer it; each service renders it in its own protocol. */
export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** EBS ValidationException and friends carry a Reason. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export const requestId = (): string => randomUUID();

/** EBS (REST-JSON): the error type in `x-amzn-ErrorType`, `{"Message", "Reason"}` in the body. */
export function jsonError(error: AwsError): Reply {
  return {
    status: error.status,
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": error.code,
      "x-amzn-requestid": requestId(),
    },
    body: JSON.stringify({
      Message: error.message,
      ...(error.reason ? { Reason: error.reason } : {}),
    }),
    errorCode: error.code,
  };
}

export const xmlEscape = (value: string): string =>
  value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** EC2 (Query): `<Response><Errors><Error><Code>…` with a RequestID. */
export function xmlError(error: AwsError): Reply {
  return {
    status: error.status,
    headers: { "content-type": "text/xml;charset=UTF-8" },
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(error.code)}</Code>` +
      `<Message>${xmlEscape(error.message)}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`,
    errorCode: error.code,
  };
}
