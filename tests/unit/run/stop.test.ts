import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunError } from "../../../sdk/errors";
import { qmpArgument } from "../../../sdk/run/qemu-options";
import { qmp, stopVm } from "../../../sdk/run/stop";

/** A process whose command line is QEMU's for `state` (argv[0] qemu-system-x86_64, its -qmp). */
function fakeQemu(state: string): ChildProcess {
  return spawn(
    process.execPath,
    ["-e", "setInterval(() => {}, 1000)", "--", "-qmp", qmpArgument(state)],
    { argv0: "qemu-system-x86_64", stdio: "ignore" },
  );
}

/** A QMP server on the state's socket: greets, answers every command, and runs `onCommand`. */
function qmpServer(
  state: string,
  onCommand: (command: string, socket: Socket) => void = () => undefined,
): Promise<Server> {
  const server = createServer((socket) => {
    socket.write(`${JSON.stringify({ QMP: { version: {} } })}\n`);
    socket.on("data", (data) => {
      for (const line of data.toString().split("\n").filter(Boolean)) {
        const { execute } = JSON.parse(line) as { execute: string };
        socket.write(`${JSON.stringify({ return: {} })}\n`);
        onCommand(execute, socket);
      }
    });
  });
  return new Promise((resolve) => server.listen(join(state, "qmp.sock"), () => resolve(server)));
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.on("exit", () => resolve()));

describe("oskit stop", () => {
  let dir: string;
  let state: string;
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "oskit-stop-"));
    state = join(dir, "state,1");
    mkdirSync(state);
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
    for (const server of servers.splice(0)) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("never signals a process that is not this VM's QEMU, says it is not running and removes qemu.pid", async () => {
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    children.push(other);
    const elsewhere = fakeQemu(join(dir, "another-state"));
    children.push(elsewhere);
    for (const pid of [other.pid!, elsewhere.pid!]) {
      writeFileSync(join(state, "qemu.pid"), `${pid}\n`);
      assert.deepEqual(await stopVm(state, 1), { how: "not running", seconds: 0 });
      assert.equal(existsSync(join(state, "qemu.pid")), false);
    }
    assert.equal(other.exitCode, null);
    assert.equal(other.signalCode, null);
    assert.equal(elsewhere.signalCode, null);
  });

  it("powers the VM off through QMP, and removes qemu.pid once QEMU is gone", async () => {
    const vm = fakeQemu(state);
    children.push(vm);
    writeFileSync(join(state, "qemu.pid"), `${vm.pid!}\n`);
    servers.push(
      await qmpServer(state, (command) => {
        if (command === "system_powerdown") vm.kill("SIGTERM");
      }),
    );
    assert.equal((await stopVm(state, 10)).how, "powered off");
    assert.equal(existsSync(join(state, "qemu.pid")), false);
  });

  it("kills QEMU that does not power off in time, and removes qemu.pid", async function () {
    this.timeout(15000);
    const vm = fakeQemu(state);
    children.push(vm);
    writeFileSync(join(state, "qemu.pid"), `${vm.pid!}\n`);
    servers.push(await qmpServer(state));
    assert.equal((await stopVm(state, 1)).how, "killed");
    await exited(vm);
    assert.equal(vm.signalCode, "SIGTERM");
    assert.equal(existsSync(join(state, "qemu.pid")), false);
  });

  it("gives up on a QMP socket that never answers, and closes the connection", async () => {
    let closed = false;
    const silent = createServer((socket) => socket.on("close", () => (closed = true)));
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(join(state, "qmp.sock"), resolve));
    const started = Date.now();
    await assert.rejects(
      qmp(state, ["system_powerdown"], { timeoutMs: 300 }),
      (e: unknown) => e instanceof RunError && /did not answer within 0\.3 s/.test(e.message),
    );
    assert.ok(Date.now() - started < 2000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closed, true);
  });
});
