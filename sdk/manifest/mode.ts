/** Permission bits of a file or device node (0–07777), written as a 4-digit octal string in manifests. */
export class FileMode {
  private constructor(
    /** The mode as a number, e.g. 0o644. */
    readonly bits: number,
  ) {}

  /** 0600: LinuxKit's default for files. */
  static readonly FILE_DEFAULT = new FileMode(0o600);
  /** 0700: LinuxKit's default for directories. */
  static readonly DIRECTORY_DEFAULT = new FileMode(0o700);

  /**
   * Parses a mode: a number is the mode itself (write `0o644` in TypeScript), a string is octal
   * (`"644"`, `"0644"`, `"0o644"`). Throws with the accepted forms on anything else.
   */
  static parse(value: number | string): FileMode {
    if (typeof value === "number") {
      if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
        throw new RangeError(
          `mode ${value} is outside 0–0o7777; write octal modes as 0o644 or "0644"`,
        );
      }
      return new FileMode(value);
    }
    const digits = value.trim().replace(/^0o/i, "");
    if (!/^[0-7]{1,5}$/.test(digits)) {
      throw new RangeError(
        `mode ${JSON.stringify(value)} is not octal; expected e.g. "0644" or "0755"`,
      );
    }
    const bits = parseInt(digits, 8);
    if (bits > 0o7777) throw new RangeError(`mode ${JSON.stringify(value)} is larger than 07777`);
    return new FileMode(bits);
  }

  /** The manifest form: four octal digits, e.g. `0644`. */
  toString(): string {
    return this.bits.toString(8).padStart(4, "0");
  }
}
