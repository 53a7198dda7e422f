/**
 * oskit: operating systems as typed code. The constructs and the rest of `oskit/core`, and the
 * Pulumi resources that build and publish systems (they need `@pulumi/pulumi`, which every Pulumi
 * program has).
 */
export * from "./core";
export * from "../provider";
