/**
 * `make bench`: oskit's figures, measured in one run on this machine, printed as a table and
 * written to bench/out/latest.json. Ratios are what matter (each against a baseline run in the
 * same process and on the same data); absolute times are context. Needs `make pkgs` first.
 *
 *   node dist/bench/run.js [--only build,noop,sizes,boot,scale,upload]
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { resolveImages } from "../sdk/assemble/assemble";
import { loadDefinitions } from "../sdk/cli/load";
import { FORMATS, WRITERS } from "../sdk/formats/writers";
import { ociArchitecture } from "../sdk/resolve/oci";
import { ContentStore, defaultStoreRoot } from "../sdk/resolve/store/store";
import { baselineScript } from "./baseline";
import { secondsToFirstAnswer } from "./boot";
import { median, oskit, repeat, ROOT, timed } from "./measure";
import { LAYER_MIB, storeSyntheticSystems } from "./synthetic";
import { awsUpload, azureUpload } from "./upload";

const SECTIONS = ["build", "noop", "sizes", "boot", "upload", "scale"] as const;
type Section = (typeof SECTIONS)[number];
const HELLO = "examples/hello/os.ts";
const RUNS = 3;
const SCALE_MIB = [256, 512, 1024, 2048];
const MiB = 1024 * 1024;

type Figures = Record<string, Record<string, unknown>>;
interface Row {
  readonly figure: string;
  readonly value: string;
  readonly goal: string;
}

const sha256Of = async (path: string) => {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
};
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const fixed = (n: number, digits = 2) => n.toFixed(digits);
const mib = (bytes: number) => `${fixed(bytes / MiB, 1)} MiB`;

function sections(argv: readonly string[]): Set<Section> {
  const at = argv.indexOf("--only");
  if (at < 0) return new Set(SECTIONS);
  const chosen = (argv[at + 1] ?? "").split(",").filter(Boolean);
  for (const name of chosen)
    if (!(SECTIONS as readonly string[]).includes(name))
      throw new Error(`--only ${name}: expected some of ${SECTIONS.join(", ")}`);
  return new Set(chosen as Section[]);
}

async function main(): Promise<void> {
  const only = sections(process.argv.slice(2));
  const out = join(ROOT, "bench", "out");
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "oskit-bench-"));
  const figures: Figures = {};
  const rows: Row[] = [];
  try {
    const storeRoot = defaultStoreRoot();
    const store = await ContentStore.open(storeRoot);
    const { manifest } = await loadDefinitions([HELLO], ROOT);
    const images = await resolveImages(manifest, store, {
      os: "linux",
      architecture: ociArchitecture(),
    }).catch((error: Error) => {
      throw new Error(
        `${error.message}\nthe benchmarks build hello from oskit's packages: run make pkgs first`,
      );
    });
    const helloDir = join(work, "hello");
    const build = (dir: string, formats: readonly string[], force: boolean) =>
      oskit([
        "build",
        HELLO,
        ...formats.flatMap((f) => ["-f", f]),
        "-o",
        dir,
        "--name",
        "hello",
        ...(force ? ["--force"] : []),
      ]);

    if (only.has("build")) {
      say("build: hello to kernel+initrd, oskit against tar -x + find | sort | cpio | gzip -6");
      await build(helloDir, ["kernel+initrd"], true);
      const ours = await repeat(RUNS, () => build(helloDir, ["kernel+initrd"], true));
      const baseline = await repeat(RUNS, async () => {
        const dir = join(work, "baseline");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        const script = await baselineScript(manifest, images, store, dir);
        return timed("bash", [script]);
      });
      const oskitS = median(ours.map((r) => r.seconds));
      const baselineS = median(baseline.map((r) => r.seconds));
      const oskitBytes = statSync(join(helloDir, "hello-initrd.img")).size;
      const baselineBytes = statSync(join(work, "baseline", "initrd.img")).size;
      figures.build = {
        ratio: oskitS / baselineS,
        size_ratio: oskitBytes / baselineBytes,
        oskit_s: oskitS,
        baseline_s: baselineS,
        oskit_initrd_bytes: oskitBytes,
        baseline_initrd_bytes: baselineBytes,
        peak_rss_mib: Math.max(...ours.map((r) => r.maxRssMib)),
      };
      rows.push(
        {
          figure: "build.ratio (oskit / tar+cpio+gzip -6)",
          value: fixed(oskitS / baselineS),
          goal: "≤ 0.8",
        },
        {
          figure: "build.size_ratio (initrd bytes)",
          value: fixed(oskitBytes / baselineBytes, 3),
          goal: "≤ 1.0",
        },
        {
          figure: "build.oskit_s / build.baseline_s",
          value: `${fixed(oskitS)} s / ${fixed(baselineS)} s`,
          goal: "",
        },
      );
    }

    if (only.has("noop")) {
      say("noop: hello rebuilt with nothing changed");
      await build(helloDir, ["kernel+initrd"], false);
      const runs = await repeat(RUNS, () => build(helloDir, ["kernel+initrd"], false));
      const seconds = median(runs.map((r) => r.seconds));
      const bytes = Math.max(...runs.map((r) => r.bytesWritten));
      figures.noop = { seconds, bytes_written: bytes };
      rows.push({
        figure: "noop.seconds / noop.bytes_written",
        value: `${fixed(seconds)} s / ${bytes} B`,
        goal: "≤ 0.2 s / 0 B",
      });
    }

    const allDir = join(work, "all");
    if (only.has("sizes") || only.has("boot")) {
      say(`sizes: hello in every format (${FORMATS.join(", ")})`);
      await build(allDir, FORMATS, true);
    }
    if (only.has("sizes")) {
      const sizes: Record<string, number> = {};
      for (const format of FORMATS)
        sizes[format] = WRITERS[format]
          .files("hello")
          .reduce((n, name) => n + statSync(join(allDir, name)).size, 0);
      figures.sizes = sizes;
      for (const [format, bytes] of Object.entries(sizes))
        rows.push({
          figure: `sizes.${format}`,
          value: mib(bytes),
          goal: format === "raw-efi" ? "≤ 40 MiB" : "",
        });
    }

    if (only.has("boot")) {
      say("boot: hello to its first HTTP answer under QEMU TCG");
      const initrd = await repeat(RUNS, () => secondsToFirstAnswer(join(allDir, "hello")));
      const efi = await repeat(RUNS, () => secondsToFirstAnswer(join(allDir, "hello-efi.img")));
      figures.boot = {
        initrd_s: median(initrd),
        efi_s: median(efi),
        initrd_runs: initrd,
        efi_runs: efi,
      };
      rows.push(
        {
          figure: "boot.initrd_s (kernel+initrd)",
          value: `${fixed(median(initrd), 1)} s`,
          goal: "≤ 4 s",
        },
        {
          figure: "boot.efi_s (raw-efi through OVMF)",
          value: `${fixed(median(efi), 1)} s`,
          goal: "≤ 10 s",
        },
      );
    }

    if (only.has("upload")) {
      say("upload: hello's aws disk to the local EC2/EBS fake, its vhd to Azurite");
      if (!only.has("sizes") && !only.has("boot")) await build(allDir, ["aws", "vhd"], true);
      const raw = join(allDir, "hello.raw");
      const aws = await awsUpload(raw, `sha256:${await sha256Of(raw)}`);
      const vhd = join(allDir, "hello.vhd");
      const azure = await azureUpload(vhd, `sha256:${await sha256Of(vhd)}`);
      figures.upload = {
        aws_ratio: aws.ratio,
        aws_bytes_sent: aws.bytesSent,
        aws_nonzero_block_bytes: aws.nonZeroBytes,
        aws_blocks: `${aws.blocksWritten}/${aws.blocksTotal}`,
        aws_mib_per_s: aws.mibPerSecond,
        azure_ratio: azure.ratio,
        azure_bytes_sent: azure.bytesSent,
        azure_bytes_in_ranges: azure.bytesInRanges,
        azure_nonzero_page_bytes: azure.nonZeroBytes,
        azure_vhd_bytes: azure.vhdBytes,
        azure_put_pages: azure.putPages,
        azure_mib_per_s: azure.mibPerSecond,
      };
      rows.push(
        {
          figure: "upload.aws_ratio (sent / non-zero 512 KiB blocks)",
          value: `${fixed(aws.ratio)} (${aws.blocksWritten} of ${aws.blocksTotal} blocks, ${fixed(aws.mibPerSecond, 0)} MiB/s to the local fake)`,
          goal: "1.00",
        },
        {
          figure: "upload.azure_ratio (sent / non-zero 512-byte pages)",
          value: `${fixed(azure.ratio)} (${mib(azure.bytesSent)} of a ${mib(azure.vhdBytes)} VHD in ${azure.putPages} Put Page calls, ${fixed(azure.mibPerSecond, 0)} MiB/s to Azurite)`,
          goal: "1.00",
        },
      );
    }

    if (only.has("scale")) {
      say(`scale: synthetic root filesystems of ${SCALE_MIB.join(", ")} MiB to kernel+initrd`);
      const scratch = join(work, "scale-store");
      const system = await storeSyntheticSystems(await ContentStore.open(scratch), SCALE_MIB, say);
      const seconds: Record<string, number> = {};
      const rss: Record<string, number> = {};
      for (const size of SCALE_MIB) {
        const definition = join(work, `synthetic-${size}.yml`);
        writeFileSync(definition, system(size));
        const dir = join(work, "scale-out");
        const run = await oskit([
          "build",
          definition,
          "-f",
          "kernel+initrd",
          "-o",
          dir,
          "--store",
          scratch,
        ]);
        rmSync(dir, { recursive: true, force: true });
        seconds[size] = run.seconds;
        rss[size] = run.maxRssMib;
        say(
          `scale: ${size} MiB in ${fixed(run.seconds, 1)} s, peak RSS ${fixed(run.maxRssMib, 0)} MiB`,
        );
      }
      const largest = SCALE_MIB[SCALE_MIB.length - 1]!;
      const perMib = SCALE_MIB.map((s) => seconds[s]! / s);
      figures.scale = {
        peak_rss_mib: rss[largest],
        seconds_by_mib: seconds,
        peak_rss_by_mib: rss,
        layer_mib: LAYER_MIB,
        linearity: perMib[perMib.length - 1]! / perMib[0]!,
      };
      rows.push(
        {
          figure: `scale.peak_rss_mib (${largest} MiB root)`,
          value: `${fixed(rss[largest]!, 0)} MiB`,
          goal: "≤ 300 MiB",
        },
        {
          figure: "scale.seconds_by_mib",
          value: SCALE_MIB.map((s) => `${s}: ${fixed(seconds[s]!, 1)}`).join(", "),
          goal: "linear",
        },
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      memory_gib: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
    },
    ...figures,
  };
  writeFileSync(join(out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  const widths = [
    Math.max(6, ...rows.map((r) => r.figure.length)),
    Math.max(5, ...rows.map((r) => r.value.length)),
  ];
  const line = (a: string, b: string, c: string) =>
    `${a.padEnd(widths[0]!)}  ${b.padEnd(widths[1]!)}  ${c}`.trimEnd();
  process.stdout.write(`${line("figure", "value", "goal")}\n`);
  for (const row of rows) process.stdout.write(`${line(row.figure, row.value, row.goal)}\n`);
  process.stdout.write(`(bench/out/latest.json)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
