/**
 * QEMU's option lists (`file=PATH,format=raw`): a comma inside a value is written twice, so a path
 * with a comma stays one value instead of turning into options of its own.
 */
import { join } from "node:path";

/** A value inside an option list, its commas doubled. */
export function qemuOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/** Splits an option list at single commas (`a,,b,format=raw` → `a,b` and `format=raw`). */
export function splitQemuOptions(list: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < list.length; i++) {
    if (list[i] !== ",") current += list[i];
    else if (list[i + 1] === ",") {
      current += ",";
      i++;
    } else {
      parts.push(current);
      current = "";
    }
  }
  return [...parts, current];
}

/** The `-qmp` argument of a VM whose state directory is `state`: a socket QEMU listens on. */
export function qmpArgument(state: string): string {
  return `unix:${qemuOptionValue(join(state, "qmp.sock"))},server=on,wait=off`;
}

/** The unix socket a QEMU command line (argv) serves QMP on, or undefined. */
export function qmpSocketOf(argv: readonly string[]): string | undefined {
  const at = argv.indexOf("-qmp");
  const socket = at < 0 ? undefined : splitQemuOptions(argv[at + 1] ?? "")[0];
  return socket?.startsWith("unix:") === true ? socket.slice("unix:".length) : undefined;
}
