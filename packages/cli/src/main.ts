/**
 * The `conclave` command: global help, then dispatch to a subcommand. Errors print one clear
 * line on stderr (never JSON, never a stack for expected failures) and set the exit status:
 * 2 for usage errors, 1 for everything else.
 */
import { isServerError } from "@conclave/server";
import { botCommand } from "./commands/bot.js";
import { kmsCommand } from "./commands/kms.js";
import { meetingCommand } from "./commands/meeting.js";
import { serveCommand } from "./commands/serve.js";
import { CliError } from "./errors.js";
import { processIo, type CliIo, type Command } from "./io.js";

/**
 * Subcommands. To add one (e.g. `bot`), write src/commands/<name>.ts exporting a Command and
 * list it here; help and dispatch pick it up.
 */
export const COMMANDS: Readonly<Record<string, Command>> = {
  serve: serveCommand,
  meeting: meetingCommand,
  bot: botCommand,
  kms: kmsCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: conclave <command> [options]

Conclave: self-hosted video meetings with verifiable end-to-end encryption.

Commands:
${lines.join("\n")}

Run \`conclave <command> --help\` for a command's options.`;
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const topic = name === "help" ? args[0] : undefined;
    if (topic !== undefined && COMMANDS[topic] !== undefined) return main([topic, "--help"], io);
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.err(`conclave: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(args, io);
  } catch (e) {
    return report(e, io, name);
  }
}

function report(e: unknown, io: CliIo, command: string): number {
  if (e instanceof CliError) {
    io.err(`conclave ${command}: ${e.message}`);
    if (e.code === "USAGE") io.err(`Run \`conclave ${command} --help\` for usage.`);
    return e.exitCode;
  }
  if (isServerError(e)) {
    io.err(`conclave ${command}: ${e.message} [${e.code}]`);
    return 1;
  }
  // parseArgs throws TypeErrors with codes like ERR_PARSE_ARGS_UNKNOWN_OPTION.
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    io.err(`conclave ${command}: ${(e as Error).message}\nRun \`conclave ${command} --help\` for usage.`);
    return 2;
  }
  io.err(`conclave ${command}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
}
