/**
 * Image references (`[domain/]path[:tag][@digest]`) as the OCI distribution reference grammar
 * defines them, parsed once into a value object.
 */

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const NAME_MAX = 255;

/** Docker Hub, the registry a reference without a domain names. */
export const DEFAULT_DOMAIN = "docker.io";

/** Why a reference did not parse; the sentence fits after `invalid image reference "…": `. */
export class ReferenceSyntaxError extends Error {}

export class ImageRef {
  private constructor(
    /** Registry host (and port) as written, or undefined when the reference names none. */
    readonly domain: string | undefined,
    /** Repository path, e.g. `linuxkit/init`. */
    readonly path: string,
    /** Tag, e.g. `v1.0`, when written. */
    readonly tag: string | undefined,
    /** Digest, e.g. `sha256:…`, when written. */
    readonly digest: string | undefined,
  ) {}

  /** Parses a reference; throws ReferenceSyntaxError saying what is wrong. */
  static parse(text: string): ImageRef {
    if (text === "") throw new ReferenceSyntaxError("the reference is empty");
    if (text.trim() !== text) throw new ReferenceSyntaxError("it has leading or trailing spaces");
    let rest = text;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
      digest = rest.slice(at + 1);
      rest = rest.slice(0, at);
      if (!DIGEST.test(digest)) {
        throw new ReferenceSyntaxError(
          `"${digest}" is not a digest (algorithm:hex, e.g. sha256:…)`,
        );
      }
      const [algorithm, hex = ""] = digest.split(":");
      const length = algorithm === "sha256" ? 64 : algorithm === "sha512" ? 128 : undefined;
      if (length !== undefined && !new RegExp(`^[a-f0-9]{${length}}$`).test(hex)) {
        throw new ReferenceSyntaxError(
          `"${digest}" is not a ${algorithm} digest (${length} lowercase hex digits)`,
        );
      }
    }
    let tag: string | undefined;
    const lastSlash = rest.lastIndexOf("/");
    const colon = rest.indexOf(":", lastSlash + 1);
    if (colon >= 0) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(tag)) {
        throw new ReferenceSyntaxError(
          `"${tag}" is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`,
        );
      }
    }
    if (rest.length > NAME_MAX) {
      throw new ReferenceSyntaxError(`the repository name is longer than ${NAME_MAX} characters`);
    }
    const parts = rest.split("/");
    let domain: string | undefined;
    const first = parts[0] ?? "";
    if (
      parts.length > 1 &&
      (first.includes(".") || first.includes(":") || first === "localhost" || /[A-Z]/.test(first))
    ) {
      domain = first;
      parts.shift();
      if (!DOMAIN.test(domain))
        throw new ReferenceSyntaxError(`"${domain}" is not a valid registry host`);
    }
    if (parts.length === 0 || parts.some((p) => p === "")) {
      throw new ReferenceSyntaxError("the repository name has an empty path component");
    }
    for (const part of parts) {
      if (!PATH_COMPONENT.test(part)) {
        throw new ReferenceSyntaxError(
          `"${part}" is not a valid repository path component (lowercase letters, digits and single '.', '_' or '-' separators)`,
        );
      }
    }
    return new ImageRef(domain, parts.join("/"), tag, digest);
  }

  /** Parses, returning undefined instead of throwing. */
  static tryParse(text: string): ImageRef | undefined {
    try {
      return ImageRef.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The repository as written, without tag or digest: `[domain/]path`. */
  get repository(): string {
    return this.domain === undefined ? this.path : `${this.domain}/${this.path}`;
  }

  /** The repository with the registry made explicit: `docker.io/library/alpine` for `alpine`. */
  get fullRepository(): string {
    if (this.domain !== undefined) return `${this.domain}/${this.path}`;
    return this.path.includes("/")
      ? `${DEFAULT_DOMAIN}/${this.path}`
      : `${DEFAULT_DOMAIN}/library/${this.path}`;
  }

  /** The reference as written. */
  toString(): string {
    return (
      this.repository +
      (this.tag === undefined ? "" : `:${this.tag}`) +
      (this.digest === undefined ? "" : `@${this.digest}`)
    );
  }
}
