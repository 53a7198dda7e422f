import { createHash } from "node:crypto";

const SHA256_HEX = /^[a-f0-9]{64}$/;

/** A content digest (`sha256:<64 hex>`); the only way digests cross module boundaries. */
export class Digest {
  private constructor(
    /** Hash algorithm; oskit computes and verifies sha256 only. */
    readonly algorithm: "sha256",
    /** Lowercase hex of the hash. */
    readonly hex: string,
  ) {}

  /** The sha256 digest of some bytes or text (text is hashed as UTF-8). */
  static sha256(data: string | Uint8Array): Digest {
    return new Digest("sha256", createHash("sha256").update(data).digest("hex"));
  }

  /** Parses `sha256:<64 lowercase hex>`; throws on anything else. */
  static parse(text: string): Digest {
    const [algorithm, hex] = text.split(":", 2);
    if (algorithm !== "sha256" || hex === undefined || !SHA256_HEX.test(hex)) {
      throw new Error(`not a sha256 digest: ${JSON.stringify(text)}`);
    }
    return new Digest("sha256", hex);
  }

  /** True when the text is a well-formed sha256 digest. */
  static isValid(text: string): boolean {
    const [algorithm, hex] = text.split(":", 2);
    return algorithm === "sha256" && hex !== undefined && SHA256_HEX.test(hex);
  }

  /** The first `length` hex digits, for display. */
  short(length = 12): string {
    return this.hex.slice(0, length);
  }

  equals(other: Digest): boolean {
    return this.algorithm === other.algorithm && this.hex === other.hex;
  }

  toString(): string {
    return `${this.algorithm}:${this.hex}`;
  }

  toJSON(): string {
    return this.toString();
  }
}
