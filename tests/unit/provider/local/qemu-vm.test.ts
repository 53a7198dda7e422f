import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Artifact } from "../../../../provider/build/image-build";
import {
  checkQemuVm,
  createQemuVm,
  deleteQemuVm,
  diffQemuVm,
  PartialCreateError,
  updateQemuVm,
  type QemuVmDeps,
  type QemuVmInputs,
  type QemuVmOutputs,
} from "../../../../provider/local/qemu-vm";
import type { RunOptions } from "../../../../sdk/run/qemu";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET = "s3cret-user-data";

/** A QEMU that exists only as entries in a set, started and stopped as the real one would be. */
class FakeQemu {
  readonly running = new Map<number, string>();
  readonly runs: RunOptions[] = [];
  readonly stops: string[] = [];
  nextPid = 4000;
  /** What the next run does after it "started" QEMU. */
  onRun: (pid: number, options: RunOptions) => void = () => undefined;
  stopWorks = true;

  readonly deps: QemuVmDeps = {
    runQemu: (options) => {
      this.runs.push(options);
      const state = options.state!;
      const pid = this.nextPid++;
      this.running.set(pid, state);
      writeFileSync(join(state, "command"), "qemu-system-x86_64 …\n");
      writeFileSync(join(state, "console.log"), "");
      if (options.data !== undefined) writeFileSync(join(state, "data.iso"), options.data);
      this.onRun(pid, options);
      writeFileSync(join(state, "qemu.pid"), `${pid}\n`);
      return Promise.resolve({ state, pid });
    },
    stopVm: (state) => {
      this.stops.push(state);
      if (!this.stopWorks) return Promise.reject(new Error(`QMP: no answer (${SECRET})`));
      for (const [pid, s] of this.running) if (s === state) this.running.delete(pid);
      rmSync(join(state, "qemu.pid"), { force: true });
      return Promise.resolve({ how: "powered off", seconds: 0.1 });
    },
    isRunning: (pid, state) => this.running.get(pid) === state,
    findQemu: (state) => [...this.running].find(([, s]) => s === state)?.[0],
  };
}

describe("QemuVm's functions", () => {
  let dir: string;
  let qemu: FakeQemu;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "oskit-qemuvm-"));
    qemu = new FakeQemu();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const artifact = (sha: string, format: Artifact["format"] = "kernel+initrd"): Artifact => {
    const path = join(dir, "build", format === "raw-efi" ? "sys.raw" : "sys");
    mkdirSync(join(dir, "build"), { recursive: true });
    if (format === "raw-efi") writeFileSync(path, "disk bytes");
    return {
      format,
      path,
      sha256: `sha256:${sha.padEnd(64, "0")}`,
      size: 10,
      files: [{ name: "sys.raw", path, sha256: `sha256:${sha.padEnd(64, "0")}`, size: 10 }],
    };
  };
  const inputs = (extra: Partial<QemuVmInputs> = {}): QemuVmInputs => ({
    artifact: artifact("a"),
    publish: ["8080:80", "5353:53/udp"],
    mem: 512,
    cpus: 2,
    data: SECRET,
    stateDir: join(dir, "vms", "web"),
    ...extra,
  });

  it("GIVEN bad inputs WHEN checked THEN each is named at its property, unknown values pass and the data is never quoted", () => {
    const bad = {
      ...inputs(),
      artifact: { ...artifact("a"), format: "tar" },
      publish: ["80", "8080:80", "8080:81", "70000:80"],
      mem: 0,
      cpus: 1.5,
      data: 42,
      stateDir: "relative/dir",
    } as unknown as QemuVmInputs;
    const { failures } = checkQemuVm(bad);
    assert.deepEqual(
      failures.map((f) => f.property),
      [
        "artifact.format",
        "publish[0]",
        "publish[2]",
        "publish[3]",
        "mem",
        "cpus",
        "data",
        "stateDir",
      ],
    );
    assert.match(failures[0]!.reason, /QEMU cannot boot format "tar"; build one of kernel\+initrd/);
    assert.match(failures[2]!.reason, /host port 8080\/tcp is forwarded twice/);
    assert.deepEqual(checkQemuVm(inputs()).failures, []);
    const preview = {
      ...inputs(),
      artifact: UNKNOWN,
      publish: [UNKNOWN],
    } as unknown as QemuVmInputs;
    assert.deepEqual(checkQemuVm(preview).failures, []);
    const missing = { ...inputs(), artifact: undefined } as unknown as QemuVmInputs;
    assert.deepEqual(
      checkQemuVm(missing).failures.map((f) => f.property),
      ["artifact"],
    );
    for (const f of failures) assert.ok(!f.reason.includes(SECRET));
  });

  it("GIVEN a running VM WHEN diffed with the same inputs THEN no change; a new sha256 or option replaces it, stopped first", async () => {
    const first = inputs();
    const { id, outs } = await createQemuVm(first, qemu.deps);
    assert.equal(id, first.stateDir);
    assert.equal(outs.pid, 4000);
    assert.deepEqual(outs.ports, [
      { address: "127.0.0.1", host: 8080, guest: 80, protocol: "tcp" },
      { address: "127.0.0.1", host: 5353, guest: 53, protocol: "udp" },
    ]);
    assert.equal(outs.consoleLog, join(first.stateDir, "console.log"));
    const run = qemu.runs[0]!;
    assert.deepEqual(
      { ...run, data: run.data === undefined ? undefined : Buffer.from(run.data).toString() },
      {
        path: first.artifact.path,
        publish: first.publish,
        mem: 512,
        cpus: 2,
        data: SECRET,
        detach: true,
        state: first.stateDir,
      },
    );

    assert.deepEqual(diffQemuVm(outs, first, qemu.deps), {
      changes: false,
      replaces: [],
      changed: [],
      deleteBeforeReplace: true,
    });
    assert.deepEqual(diffQemuVm(outs, { ...first, artifact: artifact("b") }, qemu.deps).replaces, [
      "artifact",
    ]);
    assert.deepEqual(
      diffQemuVm(outs, { ...first, artifact: { ...first.artifact, path: "/elsewhere" } }, qemu.deps)
        .changes,
      false,
      "the same bytes elsewhere are the same system",
    );
    assert.deepEqual(
      diffQemuVm(
        outs,
        { ...first, mem: 1024, cpus: 1, publish: ["9090:80"], data: "other" },
        qemu.deps,
      ).replaces,
      ["publish", "mem", "cpus", "data"],
    );
    assert.deepEqual(
      diffQemuVm(outs, { ...first, artifact: UNKNOWN as unknown as Artifact }, qemu.deps).replaces,
      ["artifact"],
      "a preview that does not know the artifact yet",
    );
  });

  it("GIVEN a VM whose QEMU is gone WHEN diffed THEN it is a change, and update starts it again", async () => {
    const first = inputs();
    const { outs } = await createQemuVm(first, qemu.deps);
    qemu.running.delete(outs.pid);
    assert.deepEqual(diffQemuVm(outs, first, qemu.deps), {
      changes: true,
      replaces: [],
      changed: ["pid"],
      deleteBeforeReplace: true,
    });
    qemu.running.set(outs.pid, join(dir, "another-vm"));
    assert.deepEqual(
      diffQemuVm(outs, first, qemu.deps).changed,
      ["pid"],
      "the pid now belongs to another QEMU",
    );
    const restarted = await updateQemuVm(outs, first, qemu.deps);
    assert.equal(restarted.pid, 4001);
    assert.equal(qemu.running.get(4001), first.stateDir);
    assert.equal(diffQemuVm(restarted, first, qemu.deps).changes, false);
  });

  it("GIVEN a running VM WHEN deleted THEN QEMU is stopped and only the files it wrote go", async () => {
    const raw = inputs({ artifact: artifact("c", "raw-efi") });
    const { outs } = await createQemuVm(raw, qemu.deps);
    assert.equal(
      qemu.runs[0]!.path,
      join(raw.stateDir, "boot.raw"),
      "a writable disk boots from a copy",
    );
    assert.deepEqual(readdirSync(raw.stateDir).sort(), [
      "boot.raw",
      "command",
      "console.log",
      "data.iso",
      "qemu.pid",
    ]);
    await deleteQemuVm(outs, qemu.deps);
    assert.deepEqual(qemu.stops, [raw.stateDir]);
    assert.equal(qemu.running.size, 0);
    assert.equal(existsSync(raw.stateDir), false);
    assert.ok(existsSync(raw.artifact.path), "the artifact stays");

    const { outs: again } = await createQemuVm(raw, qemu.deps);
    writeFileSync(join(raw.stateDir, "notes.txt"), "mine");
    await deleteQemuVm(again, qemu.deps);
    assert.deepEqual(readdirSync(raw.stateDir), ["notes.txt"], "a file it did not write stays");
    await deleteQemuVm(again, qemu.deps);
    assert.equal(qemu.stops.length, 2, "deleting a stopped VM stops nothing");
  });

  it("GIVEN QEMU that fails to start or exits at once WHEN created THEN nothing is left and the data is not in the error", async () => {
    const first = inputs();
    const failing: QemuVmDeps = {
      ...qemu.deps,
      runQemu: () => Promise.reject(new Error(`qemu-system-x86_64 exited at once: ${SECRET}`)),
    };
    await assert.rejects(createQemuVm(first, failing), (error: Error) => {
      assert.match(error.message, /exited at once: \[data\]/);
      assert.ok(!error.message.includes(SECRET));
      return true;
    });
    assert.equal(existsSync(first.stateDir), false);

    qemu.onRun = (pid) => qemu.running.delete(pid);
    await assert.rejects(createQemuVm(first, qemu.deps), /exited right after it started/);
    assert.equal(existsSync(first.stateDir), false);
    assert.equal(qemu.running.size, 0);
  });

  it("GIVEN another VM running from the state directory WHEN created THEN it refuses and leaves that VM alone", async () => {
    const first = inputs();
    await createQemuVm(first, qemu.deps);
    await assert.rejects(
      createQemuVm(first, qemu.deps),
      /a VM already runs from .* \(QEMU pid 4000\)/,
    );
    assert.equal(qemu.running.get(4000), first.stateDir);
  });

  it("GIVEN a create that started QEMU, failed and could not stop it THEN it reports a partial create that update resumes", async () => {
    const first = inputs();
    qemu.onRun = () => {
      throw new Error(`cannot write qemu.pid (${SECRET})`);
    };
    qemu.stopWorks = false;
    let partial: PartialCreateError | undefined;
    await assert.rejects(createQemuVm(first, qemu.deps), (error: unknown) => {
      assert.ok(error instanceof PartialCreateError);
      partial = error;
      return true;
    });
    assert.equal(partial!.id, first.stateDir);
    assert.equal(partial!.properties.pid, 4000, "found by its QMP socket");
    assert.equal(partial!.properties.stateDir, first.stateDir);
    assert.equal(partial!.reasons.length, 1);
    for (const text of [partial!.message, ...partial!.reasons])
      assert.ok(!text.includes(SECRET), text);
    assert.match(partial!.message, /could not be stopped/);
    assert.equal(qemu.running.get(4000), first.stateDir, "still running, and recorded");

    assert.equal(diffQemuVm(partial!.properties, first, qemu.deps).changes, false);
    qemu.onRun = () => undefined;
    qemu.stopWorks = true;
    const resumed: QemuVmOutputs = await updateQemuVm(partial!.properties, first, qemu.deps);
    assert.equal(resumed.pid, 4001);
    assert.deepEqual([...qemu.running], [[4001, first.stateDir]], "the stray QEMU was stopped");
    await deleteQemuVm(resumed, qemu.deps);
    assert.equal(existsSync(first.stateDir), false);
  });
});
