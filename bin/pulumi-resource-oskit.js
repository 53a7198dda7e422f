#!/usr/bin/env node
"use strict";
// The Pulumi provider plugin (Pulumi finds it on PATH by this name): serves schema.json's resources.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`oskit needs Node.js 22 or newer; this is ${process.version}\n`);
  process.exit(1);
}
require("../dist/provider/plugin/main.js");
