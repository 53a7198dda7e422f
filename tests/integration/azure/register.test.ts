/**
 * Managed image registration against the strict local ARM fake: the PUT and its long-running
 * operation followed (Azure-AsyncOperation, or Location when that is all there is), a failed
 * operation's code and message surfaced and the image made again, throttling's Retry-After
 * honoured, server errors retried, api-version and auth refusals surfaced without retries,
 * the timeout, and deletion.
 */
import { strict as assert } from "node:assert";
import { ArmApiError, armClient, type ArmClient } from "../../../provider/azure/arm";
import {
  deleteImage,
  diskBootOf,
  getImage,
  hyperVGenerationFor,
  IMAGE_NAME,
  imageName,
  registerImage,
  TAG,
  type RegisterOptions,
} from "../../../provider/azure/register";
import { startArmFake, type ArmFake } from "../../support/azure-arm";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const BLOB = "https://oskitimages.blob.core.windows.net/images/hello-abababababab.vhd";

describe("Azure managed images against the ARM fake", function () {
  this.timeout(15_000);
  let fake: ArmFake;
  let client: ArmClient;
  let slept: number[];

  before(async () => {
    fake = await startArmFake({ resourceGroups: ["oskit-rg"], operationDelayMs: 150 });
  });
  after(() => fake?.close());
  beforeEach(() => {
    fake.faults.clear();
    fake.state.settings.retryAfterSeconds = undefined;
    fake.state.settings.operationDelayMs = 150;
    slept = [];
    client = armClient({
      endpoint: fake.endpoint,
      token: () => Promise.resolve(fake.token),
      retry: {
        sleep: (ms) => {
          slept.push(ms);
          return Promise.resolve();
        },
      },
    });
  });

  const options = (name: string, more: Partial<RegisterOptions> = {}): RegisterOptions => ({
    subscription: fake.subscription,
    resourceGroup: "oskit-rg",
    location: "westeurope",
    name,
    blobUri: BLOB,
    digest: DIGEST,
    owner: "p/dev/hello",
    format: "vhd",
    hyperVGeneration: hyperVGenerationFor(diskBootOf("vhd")!),
    pollMs: 20,
    ...more,
  });
  const calls = (operation: string) => fake.state.calls.filter((c) => c.operation === operation);

  it("GIVEN oskit's vhd blob WHEN registered THEN the PUT's operation is followed to Succeeded and the image is Gen2, Linux, generalized, tagged with digest and owner", async () => {
    const name = imageName("hello world:latest", DIGEST, "p/dev/hello");
    assert.match(name, IMAGE_NAME);
    const before = fake.state.calls.length;
    const image = await registerImage(client, options(name));
    assert.equal(image.properties.provisioningState, "Succeeded");
    assert.equal(image.properties.hyperVGeneration, "V2");
    assert.deepEqual(image.properties.storageProfile?.osDisk?.osType, "Linux");
    assert.equal(image.properties.storageProfile?.osDisk?.osState, "Generalized");
    assert.equal(image.properties.storageProfile?.osDisk?.blobUri, BLOB);
    assert.equal(image.tags?.[TAG.digest], DIGEST);
    assert.equal(image.tags?.[TAG.owner], "p/dev/hello");
    assert.equal(image.tags?.[TAG.format], "vhd");
    const made = fake.state.calls.slice(before);
    assert.deepEqual(
      [made[0]?.operation, made[0]?.status, made.at(-1)?.operation],
      ["images.put", 201, "images.get"],
    );
    const polls = made.filter((c) => c.operation === "operations.get");
    assert.ok(polls.length >= 2, `polled until done (${polls.length} polls)`);
    assert.ok(made.every((c) => c.apiVersion === "2024-03-01"));
    // Registering again changes nothing but may change tags: 200, no operation.
    const again = await registerImage(client, options(name, { tags: { env: "dev" } }));
    assert.equal(again.tags?.env, "dev");
    assert.equal(fake.state.calls.at(-2)?.status, 200);
  });

  it("GIVEN a BIOS disk WHEN registered THEN the image is Gen1", async () => {
    assert.equal(diskBootOf("raw-bios"), "bios");
    const image = await registerImage(
      client,
      options("bios-image", { hyperVGeneration: hyperVGenerationFor("bios") }),
    );
    assert.equal(image.properties.hyperVGeneration, "V1");
  });

  it("GIVEN the operation fails WHEN registered THEN ARM's code and message are surfaced, the image is Failed, and registering again makes it", async () => {
    fake.faults.add({
      operation: "images.put",
      fault: {
        kind: "fail",
        code: "InvalidParameter",
        message: "The VHD footer is not a fixed VHD's.",
      },
    });
    await assert.rejects(registerImage(client, options("broken")), (error: unknown) => {
      assert.ok(error instanceof ArmApiError);
      assert.equal(error.code, "InvalidParameter");
      assert.match(
        error.message,
        /ended Failed: InvalidParameter: The VHD footer is not a fixed VHD's\./,
      );
      return true;
    });
    const failed = await getImage(client, fake.subscription, "oskit-rg", "broken");
    assert.equal(failed?.properties.provisioningState, "Failed");
    const image = await registerImage(client, options("broken"));
    assert.equal(image.properties.provisioningState, "Succeeded");
  });

  it("GIVEN ARM throttles with Retry-After: 1 WHEN registered THEN the client waits that second before retrying", async () => {
    const real = armClient({ endpoint: fake.endpoint, token: () => Promise.resolve(fake.token) });
    fake.faults.add({ operation: "images.put", fault: { kind: "throttle", retryAfterSeconds: 1 } });
    const before = fake.state.calls.length;
    await registerImage(real, options("throttled"));
    const puts = fake.state.calls.slice(before).filter((c) => c.operation === "images.put");
    assert.deepEqual(
      puts.map((c) => [c.status, c.code]),
      [
        [429, "TooManyRequests"],
        [201, undefined],
      ],
    );
    const gap = puts[1]!.at - puts[0]!.at;
    assert.ok(gap >= 950, `waited ${gap} ms after 429 with Retry-After: 1`);
  });

  it("GIVEN 500s and a throttled poll, and LRO answers with Retry-After WHEN registered THEN they are retried and Retry-After paces the polls", async () => {
    fake.state.settings.retryAfterSeconds = 2;
    fake.faults.add({ operation: "images.put", fault: { kind: "error" }, times: 2 });
    fake.faults.add({
      operation: "operations.get",
      fault: { kind: "throttle", retryAfterSeconds: 3 },
    });
    const polled: number[] = [];
    const image = await registerImage(
      client,
      options("flaky", {
        sleep: (ms) => {
          polled.push(ms);
          return new Promise((resolve) => setTimeout(resolve, 5));
        },
      }),
    );
    assert.equal(image.properties.provisioningState, "Succeeded");
    assert.ok(slept.includes(3000), `the throttled poll waited 3 s (${slept.join(", ")})`);
    assert.ok(
      polled.length > 0 && polled.every((ms) => ms === 2000),
      `polls waited Retry-After's 2 s (${polled.join(", ")})`,
    );
  });

  it("GIVEN an api-version ARM does not serve, or none WHEN called THEN ARM's refusal is surfaced and not retried", async () => {
    const before = calls("images.put").length;
    await assert.rejects(
      registerImage(client, options("versioned", { apiVersion: "2099-01-01" })),
      (error: unknown) =>
        error instanceof ArmApiError &&
        error.status === 400 &&
        error.code === "NoRegisteredProviderFound" &&
        /2099-01-01/.test(error.message),
    );
    assert.equal(calls("images.put").length, before + 1);
    const path = `/subscriptions/${fake.subscription}/resourceGroups/oskit-rg/providers/Microsoft.Compute/images/x`;
    const bare = await fetch(`${fake.endpoint}${path}`, {
      headers: { authorization: `Bearer ${fake.token}` },
    });
    assert.equal(bare.status, 400);
    assert.equal(
      ((await bare.json()) as { error: { code: string } }).error.code,
      "MissingApiVersionParameter",
    );
  });

  it("GIVEN a wrong token, or none WHEN called THEN 401 is surfaced with ARM's code and not retried", async () => {
    const wrong = armClient({
      endpoint: fake.endpoint,
      token: () => Promise.resolve("not-the-token"),
      retry: { sleep: () => Promise.resolve() },
    });
    const before = fake.state.calls.length;
    await assert.rejects(
      registerImage(wrong, options("unauthorized")),
      (error: unknown) =>
        error instanceof ArmApiError &&
        error.status === 401 &&
        error.code === "InvalidAuthenticationToken",
    );
    assert.equal(fake.state.calls.length, before + 1);
    const bare = await fetch(
      `${fake.endpoint}/subscriptions/${fake.subscription}/resourceGroups/oskit-rg/providers/Microsoft.Compute/images/x?api-version=2024-03-01`,
    );
    assert.equal(bare.status, 401);
    assert.match(bare.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.equal(
      ((await bare.json()) as { error: { code: string } }).error.code,
      "AuthenticationFailed",
    );
  });

  it("GIVEN a missing resource group, a bad name or blob WHEN registered THEN each is refused with its reason", async () => {
    await assert.rejects(
      registerImage(client, options("x", { resourceGroup: "nope" })),
      (error: unknown) => error instanceof ArmApiError && error.code === "ResourceGroupNotFound",
    );
    await assert.rejects(
      registerImage(
        client,
        options("-bad.", { blobUri: "http://127.0.0.1:10000/devstoreaccount1/c/b" }),
      ),
      /name "-bad\.": expected[\s\S]*blobUri "http:\/\/127\.0\.0\.1:10000\/devstoreaccount1\/c\/b"/,
    );
  });

  it("GIVEN an operation slower than the timeout WHEN registered THEN it fails saying it is still in progress", async () => {
    fake.state.settings.operationDelayMs = 60_000;
    await assert.rejects(
      registerImage(
        client,
        options("slow", { timeoutMs: 50, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }),
      ),
      (error: unknown) => error instanceof ArmApiError && error.code === "OperationTimedOut",
    );
  });

  it("GIVEN an answer pointing its operation at another host WHEN followed THEN the token is not sent there", async () => {
    const redirecting = armClient({
      endpoint: fake.endpoint,
      token: () => Promise.resolve(fake.token),
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        const op = response.headers.get("azure-asyncoperation");
        if (op === null) return response;
        const headers = new Headers(response.headers);
        headers.set("azure-asyncoperation", op.replace(fake.endpoint, "https://evil.example"));
        return new Response(await response.text(), { status: response.status, headers });
      },
    });
    await assert.rejects(
      registerImage(redirecting, options("elsewhere")),
      /refusing to send the ARM token to https:\/\/evil\.example/,
    );
  });

  it("GIVEN an image WHEN deleted through Location only THEN 202 is followed until it is gone, and a second delete says it was not there", async () => {
    await registerImage(client, options("doomed"));
    const locationOnly = armClient({
      endpoint: fake.endpoint,
      token: () => Promise.resolve(fake.token),
      retry: { sleep: () => Promise.resolve() },
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.headers.has("azure-asyncoperation")) return response;
        const headers = new Headers(response.headers);
        headers.delete("azure-asyncoperation");
        return new Response(response.status === 204 ? null : await response.text(), {
          status: response.status,
          headers,
        });
      },
    });
    const before = fake.state.calls.length;
    assert.equal(
      await deleteImage(locationOnly, fake.subscription, "oskit-rg", "doomed", { pollMs: 20 }),
      true,
    );
    const made = fake.state.calls.slice(before);
    assert.deepEqual([made[0]?.operation, made[0]?.status], ["images.delete", 202]);
    assert.ok(made.some((c) => c.operation === "operations.get" && c.status === 202));
    assert.equal(made.at(-1)?.status, 204);
    assert.equal(fake.state.image("oskit-rg", "doomed"), undefined);
    assert.equal(await getImage(client, fake.subscription, "oskit-rg", "doomed"), undefined);
    assert.equal(await deleteImage(client, fake.subscription, "oskit-rg", "doomed"), false);
  });

  it("GIVEN odd names WHEN made image names THEN they are valid and keep digest and owner apart", () => {
    for (const raw of ["---", "ünïcødé", "a".repeat(200), "x.", "_lead", "ok_"])
      assert.match(imageName(raw, DIGEST, "o"), IMAGE_NAME, raw);
    assert.notEqual(imageName("n", DIGEST, "a"), imageName("n", DIGEST, "b"));
  });
});
