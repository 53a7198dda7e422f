/**
 * Property values as the provider protocol carries them once the plugin accepts secrets: a secret
 * is `{ [SIG]: SECRET, value }` wherever it sits, an output value `{ [SIG]: OUTPUT, value?,
 * secret? }`, an unknown the UNKNOWN string. oskit's functions take plain values; the plugin
 * reveals what it is given and conceals again what came from a secret.
 */
import { UNKNOWN } from "../build/image-build";

/** The key that marks a special value, and the marks of a secret and of an output value. */
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

export type Props = Readonly<Record<string, unknown>>;

/** Plain properties, the names of those that carried a secret, and every secret string in them. */
export interface Revealed {
  readonly props: Props;
  readonly secret: ReadonlySet<string>;
  readonly secrets: readonly string[];
}

const isObject = (value: unknown): value is Props =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** A value without its marks; `found` is called for each secret in it. */
function plain(value: unknown, found: (secret: unknown) => void): unknown {
  if (Array.isArray(value)) return value.map((v) => plain(v, found));
  if (!isObject(value)) return value;
  if (value[SIG] === SECRET) {
    const inner = plain(value.value, found);
    found(inner);
    return inner;
  }
  if (value[SIG] === OUTPUT) {
    if (!Object.hasOwn(value, "value")) return UNKNOWN;
    const inner = plain(value.value, found);
    if (value.secret === true) found(inner);
    return inner;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, found)]));
}

/** Every string in a value. */
function strings(value: unknown, into: string[]): string[] {
  if (typeof value === "string") into.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, into);
  else if (isObject(value)) for (const v of Object.values(value)) strings(v, into);
  return into;
}

/** The properties with their marks taken off, and what was secret in them. */
export function reveal(props: Props | undefined): Revealed {
  const secret = new Set<string>();
  const secrets: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(props ?? {}))
    out[name] = plain(value, (inner) => {
      secret.add(name);
      strings(inner, secrets);
    });
  return {
    props: out,
    secret,
    secrets: [...new Set(secrets)].filter((s) => s !== "" && s !== UNKNOWN),
  };
}

/** The properties with each named one (where present) marked secret as a whole. */
export function conceal(props: Props, secret: Iterable<string>): Props {
  const out: Record<string, unknown> = { ...props };
  for (const name of secret)
    if (out[name] !== undefined) out[name] = { [SIG]: SECRET, value: out[name] };
  return out;
}

/** A text with every secret string in it replaced (messages the engine logs or shows). */
export function redact(text: string, secrets: readonly string[]): string {
  return [...secrets]
    .sort((a, b) => b.length - a.length)
    .reduce((out, secret) => out.split(secret).join("[secret]"), text);
}
