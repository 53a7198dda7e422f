import { strict as assert } from "node:assert";
import { UNKNOWN } from "../../../../provider/build/image-build";
import { conceal, redact, reveal } from "../../../../provider/plugin/wire";

const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });
const output = (fields: Record<string, unknown>) => ({
  [SIG]: "d0e6a833031e9bbcd3f4e8bde6ca49a4",
  ...fields,
});

describe("the provider protocol's marked values", () => {
  it("reveals plain values, naming the properties that carried a secret and every secret string", () => {
    const {
      props,
      secret: names,
      secrets,
    } = reveal({
      inputs: { token: secret("s3cret"), plain: "x" },
      os: secret({ files: [{ contents: "deep" }], kernel: { image: "" } }),
      name: "web",
      later: output({}),
      known: output({ value: "v", secret: true }),
    });
    assert.deepEqual(props, {
      inputs: { token: "s3cret", plain: "x" },
      os: { files: [{ contents: "deep" }], kernel: { image: "" } },
      name: "web",
      later: UNKNOWN,
      known: "v",
    });
    assert.deepEqual([...names].sort(), ["inputs", "known", "os"]);
    assert.deepEqual([...secrets].sort(), ["deep", "s3cret", "v"], "no empty string");
  });

  it("conceals the named properties that are present, each as a whole", () => {
    assert.deepEqual(conceal({ inputs: { token: "s" }, dir: "/d" }, ["inputs", "artifacts"]), {
      inputs: secret({ token: "s" }),
      dir: "/d",
    });
  });

  it("redacts each secret from a message, the longest first", () => {
    assert.equal(
      redact('name "a/s3cret-long": no; s3cret', ["s3cret", "a/s3cret-long"]),
      'name "[secret]": no; [secret]',
    );
  });
});
