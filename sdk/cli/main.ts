/**
 * The `oskit` command. Exit codes: 0 success, 1 a problem with the definition (or, for `diff`,
 * "different"), 2 a usage error (or, for `diff`, trouble). User errors print without a stack
 * trace; `OSKIT_DEBUG=1` shows it.
 */
import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, formatProblem, OskitError, type Problem } from "../errors";
import { FORMATS } from "../formats/writers";
import { BOOT_MODES } from "../../provider/aws/register";
import { STORAGE_ACCOUNT_TYPES } from "../../provider/azure/register";
import { DIFF_FORMATS, type DiffFormat } from "../manifest/diff/render";
import { pushAwsCommand, type PushAwsOptions } from "./commands/aws";
import { pushGcpCommand, type PushGcpOptions } from "./commands/gcp";
import { pushAzureCommand, type PushAzureOptions } from "./commands/azure";
import { buildCommand, type BuildCommandOptions } from "./commands/build";
import { diff } from "./commands/diff";
import { lockCommand, pullCommand, pushCommand, type RegistryFlags } from "./commands/registry";
import { runCommand, stopCommand, type RunCommandOptions } from "./commands/run";
import { exportYaml } from "./commands/export";
import { importYaml } from "./commands/import";
import { pkgBuild, pkgShowTag } from "./commands/pkg";
import { storeGc, storeLs, storeRm } from "./commands/store";
import { synth } from "./commands/synth";
import { validate } from "./commands/validate";
import { processIo, type Io } from "./io";

const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(
    readFileSync(join(__dirname, "..", "..", "..", "package.json"), "utf8"),
  ) as { version: string };
  return pkg.version;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function program(io: Io, done: (code: number) => void): Command {
  const cmd = new Command("oskit")
    .description(
      "Operating systems as typed code: build minimal, immutable Linux systems from TypeScript.",
    )
    .version(version(), "-v, --version")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  cmd
    .command("synth")
    .description("print the canonical manifest JSON of a definition")
    .argument(
      "<file...>",
      "a .ts/.js module whose default export is an oskit.Image, or LinuxKit .yml files (merged in order)",
    )
    .option("-o, --out <file>", "write to a file instead of stdout")
    .option("--frozen", "fail unless oskit.lock.json pins every image")
    .option("--no-lock", "ignore oskit.lock.json")
    .action(async (files: string[], opts: { out?: string; frozen?: boolean; lock?: boolean }) =>
      done(await synth(io, files, opts)),
    );

  cmd
    .command("validate")
    .description("check a definition; exit 1 with one line per problem")
    .argument("<file...>", "a .ts/.js definition or LinuxKit .yml files")
    .action(async (files: string[]) => done(await validate(io, files)));

  cmd
    .command("export")
    .description("print a definition as LinuxKit YAML")
    .argument("<file...>", "a .ts/.js definition or LinuxKit .yml files")
    .option("-o, --out <file>", "write to a file instead of stdout")
    .option("--input <name=value>", "value for an input placeholder (repeatable)", collect)
    .action(async (files: string[], opts: { out?: string; input?: string[] }) =>
      done(await exportYaml(io, files, opts)),
    );

  cmd
    .command("import")
    .description("turn LinuxKit YAML into TypeScript that uses oskit's constructs")
    .argument("<file...>", "LinuxKit .yml files, merged in order")
    .option("-o, --out <file>", "write to a file instead of stdout")
    .action(async (files: string[], opts: { out?: string }) =>
      done(await importYaml(io, files, opts)),
    );

  cmd
    .command("diff")
    .description(
      "show what changes in the operating system from A to B; exit 0 when equal, 1 when different",
    )
    .argument("<a>", "a definition file, or REV:PATH read from git (e.g. main:os.ts)")
    .argument("<b>", "a definition file, or REV:PATH")
    .addOption(
      new Option("-f, --format <format>", "output format").choices(DIFF_FORMATS).default("text"),
    )
    .addOption(
      new Option("--color <when>", "colour text output")
        .choices(["auto", "always", "never"])
        .default("auto"),
    )
    .action(
      async (
        a: string,
        b: string,
        opts: { format: DiffFormat; color: "auto" | "always" | "never" },
      ) => done(await diff(io, a, b, opts)),
    );

  cmd
    .command("build")
    .description(
      "build a system's bootable files (kernel+initrd, uki, disks, …) from the store, pulling what it lacks",
    )
    .argument("<file...>", "a .ts/.js definition or LinuxKit .yml files")
    .requiredOption(
      "-f, --format <format>",
      `output format: ${FORMATS.join(", ")} (repeatable, or comma-separated)`,
      collect,
    )
    .option("-o, --out <dir>", "output directory", ".")
    .option("--name <name>", "name of the output files (default: the definition's file name)")
    .option("--input <name=value>", "value for an input placeholder (repeatable)", collect)
    .option("--arch <arch>", "architecture of the images (default: this machine's)")
    .option("--store <dir>", "the content store (default: $OSKIT_STORE or ~/.cache/oskit)")
    .option("--force", "write the outputs even when they are current")
    .option(
      "--size <size>",
      "disk size for the disk formats, e.g. 2G (default: the smallest that fits, plus a margin)",
    )
    .option(
      "--boot-image <ref>",
      "the image with systemd's EFI stub for the UEFI formats (default: oskit's pkg/boot)",
    )
    .option("--pull", "ask the registries for every tag, even those the store has")
    .option("--frozen", "fail unless oskit.lock.json pins every image")
    .option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable)", collect)
    .option(
      "--mirror <host=url>",
      "pull this registry's images from a mirror (repeatable)",
      collect,
    )
    .action(async (files: string[], opts: BuildCommandOptions) =>
      done(await buildCommand(io, files, opts)),
    );

  const run = cmd.command("run").description("boot a built system");
  run
    .command("qemu")
    .description(
      "boot under QEMU: a kernel+initrd name prefix (NAME for NAME-kernel, …), an ISO or a disk image",
    )
    .argument("<path>", "what to boot")
    .option(
      "-p, --publish <host:guest>",
      "forward a port from 127.0.0.1 (HOST:GUEST[/udp], repeatable)",
      collect,
    )
    .option("--mem <MiB>", "memory", "1024")
    .option("--cpus <n>", "processors", "1")
    .option("--uefi", "boot with UEFI firmware (OVMF)")
    .option("--disk <file[,format=qcow2]>", "attach a disk (repeatable)", collect)
    .option(
      "--data <string>",
      "configuration data: a CD-ROM with one file, config (the metadata package copies it to /run/config/userdata)",
    )
    .option("--data-file <file>", "configuration data from a file")
    .option("--accel <tcg|kvm>", "accelerator (KVM only when asked)", "tcg")
    .option("--console-log <file>", "also write the console to a file")
    .option("--detach", "run in the background; print the state directory")
    .option(
      "--state <dir>",
      "directory for the pid, console log and QMP socket (default: a new temporary directory)",
    )
    .option("--timeout <seconds>", "kill the VM after this long")
    .action(async (path: string, opts: RunCommandOptions) =>
      done(await runCommand(io, path, opts)),
    );

  cmd
    .command("stop")
    .description(
      "power off a VM started with --detach (its onshutdown containers run), killing it after the timeout",
    )
    .argument("<state>", "the state directory oskit run printed")
    .option("--timeout <seconds>", "how long to wait for the power-off", "60")
    .action(async (state: string, opts: { timeout?: string }) =>
      done(await stopCommand(io, state, opts)),
    );

  const registryFlags = (command: Command) =>
    command
      .option("--store <dir>", "the content store (default: $OSKIT_STORE or ~/.cache/oskit)")
      .option(
        "--insecure-registry <host>",
        "allow plain HTTP to this registry (repeatable; also OSKIT_INSECURE_REGISTRIES)",
        collect,
      )
      .option(
        "--mirror <host=url>",
        "pull this registry's images from a mirror (repeatable; also OSKIT_MIRRORS)",
        collect,
      );

  registryFlags(
    cmd
      .command("pull")
      .description("pull images from their registries into the store")
      .argument("<ref...>", "image references")
      .option("--arch <arch>", "platform to pull (repeatable; default: this machine's)", collect)
      .option("--all-platforms", "pull every platform of a multi-platform image"),
  ).action(
    async (refs: string[], opts: RegistryFlags & { arch?: string[]; allPlatforms?: boolean }) =>
      done(await pullCommand(io, refs, opts)),
  );

  registryFlags(
    cmd
      .command("push")
      .description("push an image of the store to a registry")
      .argument("<source>", "a reference in the store")
      .argument("[target]", "where to push it (default: the same reference)"),
  ).action(async (source: string, target: string | undefined, opts: RegistryFlags) =>
    done(await pushCommand(io, source, target, opts)),
  );
  cmd.commands
    .find((c) => c.name() === "push")!
    .command("aws")
    .description(
      "upload a raw disk into an EBS snapshot (only the blocks holding data) and register it as an AMI; credentials from the AWS SDK's default chain",
    )
    .argument(
      "<artifact>",
      "an oskit aws or raw-efi output (NAME.raw, NAME-efi.img), or any raw disk image",
    )
    .option("--region <region>", "the region (default: $AWS_REGION)")
    .option("--name <name>", "the AMI's name (default: the file's name)")
    .option("--no-register", "upload the snapshot only")
    .option("--endpoint <url>", "one endpoint for EC2, EBS and S3 (tests, partitions)")
    .option("--ec2-endpoint <url>", "EC2's endpoint")
    .option("--ebs-endpoint <url>", "EBS direct's endpoint")
    .option("--s3-endpoint <url>", "S3's endpoint, addressed path-style (--method import)")
    .option(
      "--method <method>",
      "direct (EBS direct APIs, the blocks holding data) or import (S3 + ImportSnapshot)",
      "direct",
    )
    .option("--bucket <bucket>", "the S3 bucket the import path uploads to (--method import)")
    .option("--role-name <role>", "the VM Import service role (--method import; default: vmimport)")
    .option("--boot-mode <mode>", `${BOOT_MODES.join(", ")} (default: from the oskit format)`)
    .option("--arch <arch>", "amd64 or arm64 (default: read from the disk's EFI binary)")
    .option("--tpm", "give instances a TPM 2.0 (UEFI only)")
    .option(
      "--encrypted",
      "encrypt the snapshot (the default aws/ebs key cannot be shared across accounts)",
    )
    .option("--kms-key-arn <arn>", "the KMS key to encrypt with")
    .option("--copy-to <region>", "copy the AMI to another region (repeatable)", collect)
    .option("--parallel <n>", "blocks (default: 32) or import parts (default: 8) uploaded at once")
    .action(async (artifact: string, opts: PushAwsOptions) =>
      done(await pushAwsCommand(io, artifact, opts)),
    );
  cmd.commands
    .find((c) => c.name() === "push")!
    .command("gcp")
    .description(
      "upload a GCE tarball to Cloud Storage (resumable, checksummed) and register it as a GCE image; a token from GOOGLE_OAUTH_ACCESS_TOKEN or Application Default Credentials",
    )
    .argument(
      "<artifact>",
      "an oskit gce output (NAME.img.tar.gz), or any GCE tarball holding disk.raw",
    )
    .option("--project <project>", "the project (default: $GOOGLE_CLOUD_PROJECT)")
    .option("--bucket <bucket>", "the Cloud Storage bucket to upload the tarball to")
    .option("--family <family>", "the image family")
    .option("--name <name>", "the image's name (default: the file's name)")
    .option("--no-register", "upload the tarball only")
    .option("--storage-endpoint <url>", "Cloud Storage's endpoint (tests)")
    .option("--compute-endpoint <url>", "Compute Engine's endpoint (tests)")
    .option("--arch <arch>", "X86_64 or ARM64 (default: read from the disk's EFI binary)")
    .option("--storage-location <location>", "where the image is stored (repeatable)", collect)
    .action(async (artifact: string, opts: PushGcpOptions) =>
      done(await pushGcpCommand(io, artifact, opts)),
    );
  cmd.commands
    .find((c) => c.name() === "push")!
    .command("azure")
    .description(
      "upload a fixed VHD as a page blob (only the pages holding data) and register it as a managed image; ARM tokens from DefaultAzureCredential",
    )
    .argument(
      "<artifact>",
      "an oskit vhd output (NAME.vhd), or any fixed VHD of a whole number of MiB",
    )
    .option("--account <account>", "the storage account to upload the VHD to")
    .option("--container <container>", "the blob container (made when missing)")
    .option("--resource-group <group>", "the image's resource group")
    .option("--location <location>", "the image's region, e.g. westeurope")
    .option("--subscription <id>", "the subscription (default: $AZURE_SUBSCRIPTION_ID)")
    .option("--name <name>", "the image's name (default: the file's name)")
    .option(
      "--hyperv-generation <generation>",
      "V2 (UEFI) or V1 (BIOS) (default: from the oskit format)",
    )
    .option(
      "--storage-account-type <type>",
      `the image's OS disk storage: ${STORAGE_ACCOUNT_TYPES.join(", ")} (default: Standard_LRS)`,
    )
    .option("--no-register", "upload the blob only")
    .option("--blob-endpoint <url>", "the blob service's endpoint (other clouds, emulators, tests)")
    .option("--arm-endpoint <url>", "Azure Resource Manager's endpoint (other clouds, tests)")
    .option(
      "--account-key <key>",
      "the storage account key (default: $AZURE_STORAGE_KEY; prefer the variable: arguments show in ps)",
    )
    .option("--sas <token>", "a SAS token for the container (default: $AZURE_STORAGE_SAS_TOKEN)")
    .option("--parallel <n>", "Put Page calls in flight at once (default: 8)")
    .action(async (artifact: string, opts: PushAzureOptions) =>
      done(await pushAzureCommand(io, artifact, opts)),
    );

  registryFlags(
    cmd
      .command("lock")
      .description("pin every image of a definition by digest in oskit.lock.json beside it")
      .argument("<file...>", "a .ts/.js definition or LinuxKit .yml files")
      .option("--arch <arch>", "platform to lock (repeatable; default: this machine's)", collect)
      .option("--pull", "ask the registries again even for images in the store"),
  ).action(async (files: string[], opts: RegistryFlags & { arch?: string[]; pull?: boolean }) =>
    done(await lockCommand(io, files, opts)),
  );

  const pkg = cmd
    .command("pkg")
    .description("build component images (kernel, init, services) into the store");
  pkg
    .command("build")
    .description("build package directories (each with a build.yml) into OCI images in the store")
    .argument("<dir...>", "package directories")
    .option(
      "--arch <arch>",
      "architecture to build: amd64 or arm64 (repeatable; default: the package's list)",
      collect,
    )
    .option("--store <dir>", "the content store (default: $OSKIT_STORE or ~/.cache/oskit)")
    .option("--push <ref>", "push the image there after building (one package directory)")
    .option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable)", collect)
    .action(
      async (
        dirs: string[],
        opts: { arch?: string[]; store?: string; push?: string; insecureRegistry?: string[] },
      ) => done(await pkgBuild(io, dirs, opts)),
    );
  pkg
    .command("show-tag")
    .description("print the reference a package directory builds to, without building it")
    .argument("<dir...>", "package directories")
    .action(async (dirs: string[]) => done(await pkgShowTag(io, dirs)));

  const store = cmd.command("store").description("the local content store of images");
  const storeOption = [
    "--store <dir>",
    "the content store (default: $OSKIT_STORE or ~/.cache/oskit)",
  ] as const;
  store
    .command("ls")
    .description("list the references in the store")
    .option(...storeOption)
    .action(async (opts: { store?: string }) => done(await storeLs(io, opts)));
  store
    .command("rm")
    .description("remove references (their blobs go at the next gc)")
    .argument("<ref...>", "references, e.g. oskit/httpd:1a2b3c4d5e6f7a8b")
    .option(...storeOption)
    .action(async (refs: string[], opts: { store?: string }) =>
      done(await storeRm(io, refs, opts)),
    );
  store
    .command("gc")
    .description("remove blobs no reference reaches (older than an hour, unless --now)")
    .option(...storeOption)
    .option("--now", "also remove blobs written in the last hour")
    .action(async (opts: { store?: string; now?: boolean }) => done(await storeGc(io, opts)));

  return cmd;
}

/** Runs the CLI with the given arguments (without `node` and the script); resolves to the exit code. */
export async function main(args: readonly string[], io: Io = processIo): Promise<number> {
  let code = 0;
  const command = args[0];
  try {
    await program(io, (c) => (code = c)).parseAsync([...args], { from: "user" });
    return code;
  } catch (error) {
    return report(io, error, command === "diff");
  }
}

function report(io: Io, error: unknown, isDiff: boolean): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const debug = io.env.OSKIT_DEBUG === "1";
  const trouble = isDiff ? EXIT_USAGE : 1;
  if (OskitError.is(error)) {
    const problems: unknown = (error as { problems?: unknown }).problems;
    if (Array.isArray(problems)) {
      for (const p of problems as Problem[]) io.stderr.write(`${formatProblem(p)}\n`);
    } else {
      io.stderr.write(`oskit: ${error.message}\n`);
    }
    if (debug) io.stderr.write(`${error.stack ?? ""}\n`);
    return error.code === ErrorCode.Usage ? EXIT_USAGE : trouble;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`oskit: internal error: ${message}\n`);
  io.stderr.write(
    debug && error instanceof Error
      ? `${error.stack ?? ""}\n`
      : "(set OSKIT_DEBUG=1 for a stack trace)\n",
  );
  return trouble;
}

/** Entry point of the `oskit` binary. */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`oskit: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
