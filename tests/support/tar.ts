import { TarType } from "../../sdk/formats/tar/header";
import { TarWriter } from "../../sdk/formats/tar/writer";

/** A tar archive of regular files (path → contents), as a layer's bytes. */
export async function tarOf(files: Readonly<Record<string, string | Buffer>>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((c) => void chunks.push(c));
  for (const [path, data] of Object.entries(files))
    await writer.add({ path, type: TarType.File, mode: 0o644 }, Buffer.from(data));
  await writer.finish();
  return Buffer.concat(chunks);
}
