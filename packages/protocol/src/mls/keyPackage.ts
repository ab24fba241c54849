/**
 * KeyPackages (RFC 9420 §10): what a would-be member publishes so that a member can add it.
 *
 * `createKeyPackage` returns the encoded MLSMessage(KeyPackage) for the wire and an opaque
 * `MlsKeyPackageSecret` holding the private keys (init, leaf HPKE and signature keys). The secret
 * is single-use (RFC 9420 §16.8): joining with it deletes the init private key, and a second join
 * with the same secret is refused.
 */
import { generateKeyPackage, defaultCapabilities, type KeyPackage, type PrivateKeyPackage, type Credential } from "./library.js";
import { encodeMemberIdentity, type MemberIdentity } from "./identity.js";
import { DEFAULT_MLS_SUITE, checkSuiteName, suiteImpl, type MlsSuiteName } from "./suites.js";
import { encodeMlsMessageBytes } from "./wire.js";
import { MEETING_POLICY_EXTENSION_TYPE } from "./meeting-policy.js";
import { ProtocolError } from "../errors.js";

export interface CreateKeyPackageOptions {
  suite?: MlsSuiteName;
  /** How long the KeyPackage may be used to add this member, in seconds (default one day). */
  lifetimeSeconds?: number;
}

export interface CreatedKeyPackage {
  /** Encoded MLSMessage carrying the KeyPackage: publish it (e.g. to the delivery service). */
  keyPackage: Uint8Array;
  /** The private half; keep it on this device until the Welcome arrives. */
  secret: MlsKeyPackageSecret;
}

/** @internal */
export interface KeyPackageSecretState {
  suite: MlsSuiteName;
  identity: MemberIdentity;
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  used: boolean;
}

// Internals live outside the instance, so nothing private shows up when a secret is logged,
// spread or serialised.
const internals = new WeakMap<MlsKeyPackageSecret, KeyPackageSecretState>();

// Only this module holds the token, so only createKeyPackage can make a secret.
const CONSTRUCT = Symbol("MlsKeyPackageSecret");

/** Opaque private half of a KeyPackage. Made only by createKeyPackage. */
export class MlsKeyPackageSecret {
  /** @internal */
  constructor(token: symbol, state: KeyPackageSecretState) {
    if (token !== CONSTRUCT) throw new ProtocolError("INVALID_ARGUMENT", "MlsKeyPackageSecret: use createKeyPackage()");
    internals.set(this, state);
  }

  get suite(): MlsSuiteName {
    return open(this).suite;
  }

  get identity(): MemberIdentity {
    return { ...open(this).identity };
  }

  /** True once a Welcome has been accepted with this secret. */
  get used(): boolean {
    return open(this).used;
  }

  toJSON(): string {
    return "[MlsKeyPackageSecret]";
  }
}

function open(secret: MlsKeyPackageSecret): KeyPackageSecretState {
  const state = internals.get(secret);
  if (state === undefined) throw new ProtocolError("INVALID_ARGUMENT", "secret: not an MlsKeyPackageSecret");
  return state;
}

/** For the session module: the key material behind a secret. Not exported from the package. */
export function openKeyPackageSecret(secret: unknown): KeyPackageSecretState {
  if (!(secret instanceof MlsKeyPackageSecret)) throw new ProtocolError("INVALID_ARGUMENT", "secret: not an MlsKeyPackageSecret");
  return open(secret);
}

/** Marks a secret used and deletes its init private key (used only to decrypt the Welcome). */
export function consumeKeyPackageSecret(secret: MlsKeyPackageSecret): void {
  const state = open(secret);
  state.used = true;
  state.privatePackage.initPrivateKey.fill(0);
}

export function basicCredential(identity: MemberIdentity): Credential {
  return { credentialType: "basic", identity: encodeMemberIdentity(identity) };
}

const DEFAULT_LIFETIME_SECONDS = 24 * 3600;
// Accept a committer whose clock runs up to an hour behind ours.
const CLOCK_SKEW_SECONDS = 3600;

export async function createKeyPackage(identity: MemberIdentity, options: CreateKeyPackageOptions = {}): Promise<CreatedKeyPackage> {
  const { publicPackage, secret } = await generate(identity, options);
  const keyPackage = encodeMlsMessageBytes({ version: "mls10", wireformat: "mls_key_package", keyPackage: publicPackage });
  return { keyPackage, secret };
}

/** Shared with MlsSession.create, which needs the decoded KeyPackage for the founder's leaf. */
export async function generate(
  identity: MemberIdentity,
  options: CreateKeyPackageOptions,
): Promise<{ publicPackage: KeyPackage; secret: MlsKeyPackageSecret }> {
  const suite = checkSuiteName(options.suite ?? DEFAULT_MLS_SUITE);
  const lifetime = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 60 || lifetime > 30 * 24 * 3600) {
    throw new ProtocolError("INVALID_ARGUMENT", "lifetimeSeconds: expected an integer from 60 to 2592000 (30 days)");
  }
  const credential = basicCredential(identity); // validates the identity first
  const cs = await suiteImpl(suite);
  const now = BigInt(Math.floor(Date.now() / 1000));
  // RFC 9420 §7.2: a member must list every non-default GroupContext extension it supports, and
  // Conclave groups carry the meeting policy extension.
  const capabilities = defaultCapabilities();
  capabilities.extensions = [...capabilities.extensions, MEETING_POLICY_EXTENSION_TYPE];
  const { publicPackage, privatePackage } = await generateKeyPackage(
    credential,
    capabilities,
    { notBefore: now - BigInt(CLOCK_SKEW_SECONDS), notAfter: now + BigInt(lifetime) },
    [],
    cs,
  );
  const secret = new MlsKeyPackageSecret(CONSTRUCT, { suite, identity: { ...identity }, publicPackage, privatePackage, used: false });
  return { publicPackage, secret };
}
