/**
 * Fuzzing helpers shared by the test suites (docs/security-testing.md): a fuzz target is a
 * fast-check arbitrary of inputs a network peer controls, and a check that throws when the
 * decoder does something it may not (an unexpected exception, a non-canonical result). The
 * generators mutate real messages (bit flips, byte rewrites, cuts, insertions, deletions, splices)
 * so that inputs get past length fields and tags; `runTarget` runs one target for a number of
 * inputs or a time, and `corpus` reads the inputs kept as regression tests.
 */
import * as fc from "fast-check";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface FuzzTarget {
  name: string;
  /** What a network peer controls here, for the docs table. */
  reads: string;
  arbitrary: fc.Arbitrary<Uint8Array | string>;
  /** Throws (an AssertionError or the unexpected exception) when the property does not hold. */
  check(input: Uint8Array | string): void | Promise<void>;
}

export class PropertyViolation extends Error {
  override name = "PropertyViolation";
}

// ---- generators ----------------------------------------------------------------------------

/** Mutations of real inputs: what gets a byte fuzzer past lengths and tags. */
export function mutatedBytes(seeds: readonly Uint8Array[], maxExtra = 64): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds);
  const op = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: maxExtra }) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), other: seed, from: fc.nat() }),
  );
  return fc.tuple(seed, fc.array(op, { minLength: 1, maxLength: 4 })).map(([s, ops]) => {
    let b: Uint8Array = s.slice();
    for (const o of ops) {
      const at = b.length === 0 ? 0 : o.at % (b.length + 1);
      switch (o.kind) {
        case "flip":
          if (b.length > 0) b[at % b.length]! ^= 1 << o.bit;
          break;
        case "set":
          if (b.length > 0) b[at % b.length] = o.value;
          break;
        case "cut":
          b = b.slice(0, at);
          break;
        case "insert":
          b = concat(b.slice(0, at), o.bytes, b.slice(at));
          break;
        case "delete":
          b = concat(b.slice(0, at), b.slice(at + o.n));
          break;
        case "splice": {
          const from = o.other.length === 0 ? 0 : o.from % o.other.length;
          b = concat(b.slice(0, at), o.other.slice(from));
          break;
        }
      }
    }
    return b;
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}


// ---- running ---------------------------------------------------------------------------------

export interface FuzzResult {
  target: string;
  executions: number;
  failure: string | null;
}

/** Runs one target: `numRuns` inputs, or until `timeLimitMs`. */
export async function runTarget(target: FuzzTarget, opts: { numRuns: number; seed: number; timeLimitMs?: number }): Promise<FuzzResult> {
  let executions = 0;
  const predicate = (input: Uint8Array | string) => {
    executions++;
    return target.check(input);
  };
  const isAsync = target.check.constructor.name === "AsyncFunction";
  const property = isAsync
    ? fc.asyncProperty(target.arbitrary, async (i) => {
        await predicate(i);
      })
    : fc.property(target.arbitrary, (i) => {
        predicate(i);
      });
  const details = await fc.check(property as fc.IAsyncProperty<[Uint8Array | string]>, {
    numRuns: opts.numRuns,
    seed: opts.seed,
    ...(opts.timeLimitMs !== undefined ? { interruptAfterTimeLimit: opts.timeLimitMs } : {}),
    endOnFailure: true,
  });
  const failure = details.failed ? `${String(details.errorInstance)}; counterexample: ${JSON.stringify(serialize(details.counterexample?.[0]))}; seed ${details.seed}, path ${details.counterexamplePath}` : null;
  return { target: target.name, executions, failure };
}

function serialize(input: unknown): unknown {
  return input instanceof Uint8Array ? { hex: Buffer.from(input).toString("hex") } : input;
}

// ---- corpus ----------------------------------------------------------------------------------

/**
 * Inputs kept as regression tests: <corpusDir>/<target>/<name>.hex (bytes, hex) or any other
 * name (text).
 */
export function corpus(corpusDir: string, target: string): { name: string; input: Uint8Array | string }[] {
  const dir = join(corpusDir, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), "utf8");
      return { name, input: name.endsWith(".hex") ? new Uint8Array(Buffer.from(text.trim(), "hex")) : text };
    });
}
