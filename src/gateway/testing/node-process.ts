import { spawn, type ChildProcess } from 'node:child_process';

// A gateway node (or any script speaking the same protocol: one JSON line with
// `"listening"` and the port on stdout, `{cmd:'cpu'}` answered over IPC, a clean
// exit on SIGTERM) as a child process. Used by the multi-process tests and the
// benchmark, which must not share one event loop with what they measure.

export interface NodeProcess {
  readonly port: number;
  readonly opsPort: number | null;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  cpu(): Promise<NodeJS.CpuUsage>;
  stop(): Promise<void>;
}

/** Starts `node-main.js` (or any script that prints the same `listening` line) and waits until it listens. */
export async function spawnGatewayProcess(
  script: string,
  options: object | null,
  settings: {
    readonly nodeArgs?: readonly string[];
    readonly args?: readonly string[];
    readonly env?: NodeJS.ProcessEnv;
    /** A command that runs node, such as valgrind: `[command, ...its args]`, then node and its arguments. */
    readonly wrapper?: readonly [string, ...string[]];
    readonly startTimeoutMs?: number;
  } = {},
): Promise<NodeProcess> {
  const args = [...(settings.nodeArgs ?? []), script, ...(settings.args ?? []), ...(options === null ? [] : [JSON.stringify(options)])];
  const [command, ...commandArgs] = settings.wrapper === undefined ? [process.execPath] : [...settings.wrapper, process.execPath];
  const child = spawn(command, [...commandArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: settings.env ?? process.env });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = await new Promise<{ port: number; opsPort: number | null }>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`gateway process did not start: ${stderr}`)), settings.startTimeoutMs ?? 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; opsPort: number | null });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited with ${code}: ${stderr}`));
    });
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') process.stderr.write(`${script} exited (${code ?? signal}): ${stderr.slice(-2000)}\n`);
  });
  return {
    port: started.port,
    opsPort: started.opsPort,
    child,
    stderr: () => stderr,
    cpu: () =>
      new Promise((resolve) => {
        child.once('message', (message: { cpu: NodeJS.CpuUsage }) => resolve(message.cpu));
        child.send({ cmd: 'cpu' });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
