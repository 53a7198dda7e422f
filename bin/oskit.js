#!/usr/bin/env node
"use strict";
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`oskit needs Node.js 22 or newer; this is ${process.version}\n`);
  process.exit(1);
}
// Compiled code is cached per user (never in a shared directory such as /tmp): startup ~30% faster.
const { join } = require("node:path");
const cacheHome = process.env.XDG_CACHE_HOME || join(require("node:os").homedir(), ".cache");
require("node:module").enableCompileCache?.(join(cacheHome, "oskit-node"));
require("../dist/sdk/cli/main.js").run();
