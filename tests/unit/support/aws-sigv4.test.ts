/**
 * The AWS fake's SigV4 verifier against AWS's published aws-sig-v4-test-suite vectors: the
 * canonical request, the string to sign and the signature of each, so the uploader and the fake
 * cannot share one mistake.
 */
import assert from "node:assert/strict";
import {
  canonicalRequest,
  parseAuthorization,
  sha256Hex,
  signature,
  stringToSign,
  verify,
  type SignableRequest,
} from "../../support/aws/sigv4";

const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const DATE = "20150830T123600Z";
const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
const SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

interface Vector {
  readonly name: string;
  readonly method: string;
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  readonly signedHeaders: string;
  readonly canonicalRequest: string;
  readonly stringToSignHash: string;
  readonly signature: string;
}

// Each from aws-sig-v4-test-suite: the .req (request), .creq, .sts and .authz files.
const VECTORS: readonly Vector[] = [
  {
    name: "get-vanilla",
    method: "GET",
    target: "/",
    headers: [
      ["Host", "example.amazonaws.com"],
      ["X-Amz-Date", DATE],
    ],
    body: "",
    signedHeaders: "host;x-amz-date",
    canonicalRequest:
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    stringToSignHash: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
    signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-query-order-key-case",
    method: "GET",
    target: "/?Param2=value2&Param1=value1",
    headers: [
      ["Host", "example.amazonaws.com"],
      ["X-Amz-Date", DATE],
    ],
    body: "",
    signedHeaders: "host;x-amz-date",
    canonicalRequest:
      "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
      "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    stringToSignHash: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
    signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    name: "get-header-value-trim",
    method: "GET",
    target: "/",
    headers: [
      ["Host", "example.amazonaws.com"],
      ["My-Header1", " value1"],
      ["My-Header2", ' "a   b   c"'],
      ["X-Amz-Date", DATE],
    ],
    body: "",
    signedHeaders: "host;my-header1;my-header2;x-amz-date",
    canonicalRequest:
      'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\n' +
      "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" +
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    stringToSignHash: "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
    signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
  },
  {
    name: "post-x-www-form-urlencoded",
    method: "POST",
    target: "/",
    headers: [
      ["Content-Type", "application/x-www-form-urlencoded"],
      ["Host", "example.amazonaws.com"],
      ["X-Amz-Date", DATE],
    ],
    body: "Param1=value1",
    signedHeaders: "content-type;host;x-amz-date",
    canonicalRequest:
      "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n" +
      "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n" +
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    stringToSignHash: "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
    signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-vanilla",
    method: "POST",
    target: "/",
    headers: [
      ["Host", "example.amazonaws.com"],
      ["X-Amz-Date", DATE],
    ],
    body: "",
    signedHeaders: "host;x-amz-date",
    canonicalRequest:
      "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    stringToSignHash: "",
    signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
];

const SCOPE_PARTS = {
  accessKeyId: "AKIDEXAMPLE",
  date: "20150830",
  region: "us-east-1",
  service: "service",
};

function signable(v: Vector, authorization?: string): SignableRequest {
  return {
    method: v.method,
    target: v.target,
    headers: authorization ? [...v.headers, ["Authorization", authorization]] : v.headers,
    payloadHash: sha256Hex(v.body),
  };
}

const authorizationOf = (v: Vector, sig = v.signature) =>
  `AWS4-HMAC-SHA256 Credential=${SCOPE}, SignedHeaders=${v.signedHeaders}, Signature=${sig}`;

const OPTIONS = { credentials: CREDENTIALS, regions: ["us-east-1"], service: "service", now: NOW };

describe("AWS fake: SigV4 verifier against the published test suite", () => {
  for (const v of VECTORS) {
    describe(v.name, () => {
      it("builds the published canonical request", () => {
        const creq = canonicalRequest(signable(v), v.signedHeaders.split(";"));
        assert.equal(creq, v.canonicalRequest);
      });

      if (v.stringToSignHash !== "") {
        it("builds the published string to sign", () => {
          const sts = stringToSign(DATE, SCOPE_PARTS, v.canonicalRequest);
          assert.equal(
            sts,
            `AWS4-HMAC-SHA256\n${DATE}\n20150830/us-east-1/service/aws4_request\n${v.stringToSignHash}`,
          );
        });
      }

      it("computes the published signature and accepts the published Authorization", () => {
        const sts = stringToSign(DATE, SCOPE_PARTS, v.canonicalRequest);
        assert.equal(signature(CREDENTIALS.secretAccessKey, SCOPE_PARTS, sts), v.signature);
        const result = verify(signable(v, authorizationOf(v)), OPTIONS);
        assert.equal(result.ok, true, result.message);
        assert.equal(result.canonicalRequest, v.canonicalRequest);
      });

      it("refuses the request with one signature digit changed", () => {
        const last = v.signature.endsWith("0") ? "1" : "0";
        const result = verify(
          signable(v, authorizationOf(v, v.signature.slice(0, -1) + last)),
          OPTIONS,
        );
        assert.equal(result.failure, "mismatch");
      });
    });
  }

  describe("the refusals around a valid signature", () => {
    const v = VECTORS[0]!;
    const check = (patch: Partial<typeof OPTIONS>, request = signable(v, authorizationOf(v))) =>
      verify(request, { ...OPTIONS, ...patch });

    it("GIVEN no Authorization header THEN missing", () => {
      assert.equal(check({}, signable(v)).failure, "missing");
    });
    it("GIVEN another access key THEN unknown-key", () => {
      assert.equal(
        check({ credentials: { ...CREDENTIALS, accessKeyId: "AKIDOTHER" } }).failure,
        "unknown-key",
      );
    });
    it("GIVEN a scope for another region THEN scope, naming the region", () => {
      const result = check({ regions: ["eu-west-1"] });
      assert.equal(result.failure, "scope");
      assert.match(result.message!, /valid region, not 'us-east-1'/);
    });
    it("GIVEN a scope for another service THEN scope, naming the service", () => {
      const result = check({ service: "ec2" });
      assert.equal(result.failure, "scope");
      assert.match(result.message!, /correct service: 'ec2'/);
    });
    it("GIVEN a server clock 16 minutes on THEN expired; 14 minutes THEN accepted", () => {
      assert.equal(check({ now: NOW + 16 * 60_000 }).failure, "expired");
      assert.equal(check({ now: NOW - 16 * 60_000 }).failure, "expired");
      assert.equal(check({ now: NOW + 14 * 60_000 }).ok, true);
    });
    it("GIVEN a wrong secret THEN mismatch", () => {
      assert.equal(
        check({ credentials: { ...CREDENTIALS, secretAccessKey: "x" } }).failure,
        "mismatch",
      );
    });
    it("GIVEN host not signed or a malformed header THEN incomplete", () => {
      const noHost = `AWS4-HMAC-SHA256 Credential=${SCOPE}, SignedHeaders=x-amz-date, Signature=${v.signature}`;
      assert.equal(check({}, signable(v, noHost)).failure, "incomplete");
      assert.equal(check({}, signable(v, "AWS4-HMAC-SHA256 Credential=x")).failure, "incomplete");
      assert.equal(parseAuthorization("Basic Zm9vOmJhcg=="), undefined);
    });
    it("GIVEN a body other than the one signed THEN mismatch", () => {
      const request = { ...signable(v, authorizationOf(v)), payloadHash: sha256Hex("x") };
      assert.equal(check({}, request).failure, "mismatch");
    });
  });
});
