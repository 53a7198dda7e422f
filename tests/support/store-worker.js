"use strict";
// A second process for store concurrency tests: writes blobs and tags references in a store.
// Usage: node store-worker.js ROOT STORE NAME COUNT
const { join } = require("node:path");
const [root, storeDir, name, count] = process.argv.slice(2);
const { ContentStore } = require(join(root, "dist/sdk/resolve/store/store.js"));

(async () => {
  const store = await ContentStore.open(storeDir);
  const shared = Buffer.alloc(4 * 1024 * 1024, 7);
  for (let i = 0; i < Number(count); i++) {
    await store.putBlob(shared);
    const own = await store.putJson({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [],
      annotations: { worker: name, i: String(i) },
    });
    await store.tag(`example.com/${name}:v${i}`, {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: own.digest.toString(),
      size: own.size,
    });
  }
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
