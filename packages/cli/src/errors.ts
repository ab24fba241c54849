/**
 * Every error the `conclave` command reports, with a stable code, an exit status and a message
 * that says what to do. One table per package (CONVENTIONS.md habit 3). Messages never contain
 * the admin token or passcodes.
 */
export const CLI_ERRORS = {
  USAGE: { exitCode: 2, message: "The command line is not valid." },
  FILE_UNREADABLE: { exitCode: 1, message: "A file named on the command line cannot be read." },
  NO_ADMIN_TOKEN: {
    exitCode: 1,
    message:
      "No admin API token: pass --token, set CONCLAVE_TOKEN, or run next to the server's data directory (--data DIR).",
  },
  SERVER_UNREACHABLE: { exitCode: 1, message: "The server could not be reached. Is `conclave serve` running there?" },
  SERVER_TIMEOUT: { exitCode: 1, message: "The server did not answer in time." },
  TLS_UNTRUSTED: {
    exitCode: 1,
    message:
      "The server's TLS certificate is not trusted. For a self-signed server pass --fingerprint <SHA-256 shown by `conclave serve`> or --ca <cert.pem>, or run next to its data directory (--data DIR).",
  },
  TLS_FINGERPRINT_MISMATCH: {
    exitCode: 1,
    message: "The server's certificate does not match --fingerprint: this may not be your server. Nothing was sent.",
  },
  API_ERROR: { exitCode: 1, message: "The server refused the request." },
  BAD_RESPONSE: { exitCode: 1, message: "The server's answer is not what this version of conclave expects." },
} as const satisfies Record<string, { exitCode: number; message: string }>;

export type CliErrorCode = keyof typeof CLI_ERRORS;

export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: number;

  /** `detail` is appended to the table's message; it must not contain secrets. */
  constructor(code: CliErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = CLI_ERRORS[code];
    super(detail ? `${entry.message} (${detail})` : entry.message, options);
    this.name = "CliError";
    this.code = code;
    this.exitCode = entry.exitCode;
  }
}

export function isCliError(e: unknown, code?: CliErrorCode): e is CliError {
  return e instanceof CliError && (code === undefined || e.code === code);
}
