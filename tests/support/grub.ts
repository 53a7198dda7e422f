/** Stand-ins for GRUB's i386-pc images, shaped like them where oskit patches them. */

/** A boot.img shaped like GRUB's: code bytes, the drive check jump at 0x66, code over 0x1b8–0x1fd, 0x55 0xaa. */
export function fakeBootImg(): Buffer {
  const img = Buffer.alloc(512);
  for (let i = 0; i < 510; i++) img[i] = (i * 7 + 3) & 0xff;
  img.writeBigUInt64LE(1n, 0x5c);
  img[0x64] = 0xff;
  img.set([0xeb, 0x05], 0x66);
  img.set([0x55, 0xaa], 510);
  return img;
}

/** A core.img shaped like GRUB's: diskboot.img's sector with its default block list, then `sectors` more (the last partial). */
export function fakeCoreImg(sectors: number): Buffer {
  const img = Buffer.alloc(512 * sectors + 300);
  for (let i = 0; i < img.length; i++) img[i] = (i * 13 + 1) & 0xff;
  img.fill(0, 0x1e0, 0x200);
  img.writeBigUInt64LE(2n, 0x1f4);
  img.writeUInt16LE(0, 0x1fc);
  img.writeUInt16LE(0x820, 0x1fe);
  return img;
}
