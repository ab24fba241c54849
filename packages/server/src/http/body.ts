/**
 * Reading a JSON request body with a size limit. Too large -> BODY_TOO_LARGE (413), not JSON
 * or not UTF-8 -> MALFORMED_JSON (400), wrong content type -> UNSUPPORTED_MEDIA_TYPE (415).
 * Bodies are never logged.
 */
import type { IncomingMessage } from "node:http";
import { ServerError } from "../errors.js";

export const DEFAULT_BODY_LIMIT = 64 * 1024;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** Resolves to the parsed JSON value, or undefined when the request has no body. */
export async function readJsonBody(req: IncomingMessage, limit: number = DEFAULT_BODY_LIMIT): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  if (!isJsonContentType(req.headers["content-type"])) throw new ServerError("UNSUPPORTED_MEDIA_TYPE");
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new ServerError("BODY_TOO_LARGE", `limit ${limit} bytes`);

  const body = await collect(req, limit);
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new ServerError("MALFORMED_JSON", "the body is not UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message quotes the body; say nothing about its content.
    throw new ServerError("MALFORMED_JSON");
  }
}

/**
 * Read the whole body, or reject with BODY_TOO_LARGE as soon as it passes `limit`. The rest
 * of an oversized body is read and dropped rather than the stream destroyed, so the socket
 * stays usable long enough to deliver the 413 (the response then closes the connection).
 */
function collect(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // discard what follows
        reject(new ServerError("BODY_TOO_LARGE", `limit ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new ServerError("BAD_REQUEST", "the request body was interrupted", { cause: e }));
    };
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
