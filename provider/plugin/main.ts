/**
 * `pulumi-resource-oskit`, the provider plugin: Pulumi starts it with the engine's address, reads
 * the gRPC port it prints, and calls it for oskit's resources in programs of any language.
 */
import { main } from "@pulumi/pulumi/provider";
import { oskitProvider } from "./provider";

void main(oskitProvider(), process.argv.slice(2));
