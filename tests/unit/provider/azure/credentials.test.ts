/**
 * Azure credentials: secrets redacted from messages, ARM's scope per cloud, the subscription from
 * option or environment, tokens reused until near expiry, and the blob side's choice of key, SAS
 * or token.
 */
import { strict as assert } from "node:assert";
import { blobAuth } from "../../../../provider/azure/blob";
import {
  ARM_SCOPE,
  armScopeOf,
  redactSecrets,
  subscriptionOf,
  tokenSource,
  type AzureTokenCredential,
} from "../../../../provider/azure/credentials";

describe("azure credentials", () => {
  it("GIVEN messages holding a SAS, a bearer token, a SharedKey header and a connection string THEN redactSecrets keeps none", () => {
    const text = [
      "PUT https://a.blob.core.windows.net/c/b?comp=page&sv=2022-11-02&sig=abc%2Bdef%3D&se=x failed",
      "sig=first&sp=rw",
      "Authorization: Bearer eyJ0eXAi.abc-def_ghi",
      "Authorization: SharedKey devstoreaccount1:c2lnbmF0dXJlPQ==",
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5a2V5a2V5;EndpointSuffix=x",
      "the key is a2V5a2V5a2V5Zm9v",
    ].join("\n");
    const out = redactSecrets(text, ["a2V5a2V5a2V5Zm9v", undefined]);
    for (const secret of ["abc%2Bdef%3D", "first", "eyJ0eXAi", "c2lnbmF0dXJlPQ", "a2V5a2V5a2V5"])
      assert.ok(!out.includes(secret), `${secret} left in:\n${out}`);
    assert.match(out, /comp=page&sv=2022-11-02&sig=REDACTED&se=x failed/);
    assert.match(out, /SharedKey devstoreaccount1:REDACTED/);
  });

  it("GIVEN ARM endpoints THEN the scope is the public cloud's or the endpoint's origin", () => {
    assert.equal(armScopeOf(), ARM_SCOPE);
    assert.equal(armScopeOf("https://management.azure.com/"), ARM_SCOPE);
    assert.equal(
      armScopeOf("https://management.chinacloudapi.cn"),
      "https://management.chinacloudapi.cn/.default",
    );
    assert.equal(armScopeOf("http://127.0.0.1:8443/"), "http://127.0.0.1:8443/.default");
  });

  it("GIVEN the option, the environment or neither THEN subscriptionOf picks the option first", () => {
    const env = { AZURE_SUBSCRIPTION_ID: " 0000-env " };
    assert.equal(subscriptionOf("given", env), "given");
    assert.equal(subscriptionOf(undefined, env), "0000-env");
    assert.equal(subscriptionOf(undefined, { AZURE_SUBSCRIPTION_ID: "" }), undefined);
  });

  it("GIVEN a credential THEN its token is reused until two minutes before expiry, and a refusal says how to sign in", async () => {
    let calls = 0;
    let expires = Date.now() + 3_600_000;
    const credential: AzureTokenCredential = {
      getToken: (scopes) => {
        calls++;
        assert.equal(scopes, ARM_SCOPE);
        return Promise.resolve({ token: `t${calls}`, expiresOnTimestamp: expires });
      },
    };
    const source = tokenSource(credential, ARM_SCOPE);
    assert.equal(await source(), "t1");
    assert.equal(await source(), "t1");
    expires = Date.now() + 60_000;
    const soon = tokenSource(credential, ARM_SCOPE);
    assert.equal(await soon(), "t2");
    assert.equal(await soon(), "t3");
    const refusing = tokenSource(
      { getToken: () => Promise.reject(new Error("AADSTS7000215 for ?sig=leak")) },
      ARM_SCOPE,
    );
    await assert.rejects(refusing(), (error: Error) => {
      assert.match(error.message, /no Azure token for .*AADSTS7000215.*sign in with `az login`/);
      assert.doesNotMatch(error.message, /leak/);
      return true;
    });
  });

  it("GIVEN keys, SAS tokens and a credential THEN blobAuth takes the option, then the environment, then the credential", () => {
    const credential: AzureTokenCredential = { getToken: () => Promise.resolve(null) };
    const target = { account: "a", container: "c" };
    const env = { AZURE_STORAGE_KEY: "envkey", AZURE_STORAGE_SAS_TOKEN: "?sv=1&sig=env" };
    assert.deepEqual(blobAuth({ ...target, accountKey: "k" }, env), { kind: "key", key: "k" });
    assert.deepEqual(blobAuth({ ...target, sas: "?sv=1&sig=s" }, env), {
      kind: "sas",
      sas: "sv=1&sig=s",
    });
    assert.deepEqual(blobAuth({ ...target, credential }, env), { kind: "key", key: "envkey" });
    assert.deepEqual(blobAuth(target, { AZURE_STORAGE_SAS_TOKEN: env.AZURE_STORAGE_SAS_TOKEN }), {
      kind: "sas",
      sas: "sv=1&sig=env",
    });
    assert.equal(blobAuth({ ...target, credential }, {}).kind, "token");
    assert.throws(() => blobAuth({ ...target, accountKey: "k", sas: "s" }, {}), /not both/);
    assert.throws(() => blobAuth(target, {}), /no credentials for storage account a/);
  });
});
