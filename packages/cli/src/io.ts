/** What a command may touch of its environment, so commands can run in tests in-process. */
export interface CliIo {
  /** Program output (JSON, URLs): what scripts read. */
  out(text: string): void;
  /** Diagnostics, warnings and errors. */
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** A subcommand: `run` resolves to the process exit status. */
export interface Command {
  /** One line for `conclave --help`. */
  readonly summary: string;
  run(args: string[], io: CliIo): Promise<number>;
}
