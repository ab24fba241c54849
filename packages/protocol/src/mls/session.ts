/**
 * One member's view of one MLS group (RFC 9420), over ts-mls 1.6.4.
 *
 * State model: an `MlsSession` is ONE OWNED, MUTABLE OBJECT. ts-mls itself is functional (every
 * operation returns a new ClientState); the session keeps the current ClientState privately and
 * replaces it only when an operation succeeds, so a failed operation (wrong epoch, bad message,
 * rejected commit) leaves the session exactly where it was. Mutating operations run one at a time
 * through an internal queue, so a commit and an incoming message can never both build on the same
 * old state. Nothing outside this object holds the ClientState.
 *
 * Commits follow the delivery-service protocol of RFC 9420 §14 ("first commit for an epoch
 * wins"): `commit()` builds a PENDING commit without changing the epoch. The caller sends it to
 * the DS; when the DS accepts it the caller calls `applyPendingCommit()` (or feeds the DS's
 * broadcast of that same commit to `processMessage()`, which recognises it: use one or the
 * other). When another member's commit wins the epoch, the caller processes that commit: the
 * session moves to the new epoch and drops its now-stale pending commit (or the caller calls
 * `discardPendingCommit()`).
 *
 * Framing (what goes on the wire; every output is an encoded MLSMessage):
 * - Commits and proposals are PublicMessages (RFC 9420 §6.2). Tradeoff: the DS (and anyone who
 *   sees its traffic) can read who commits and which members are added or removed, plus the
 *   UpdatePath's public keys and encrypted path secrets. In exchange the DS can order and check
 *   handshakes without secrets: sender leaf, epoch, whether a removal carries an UpdatePath, the
 *   new members' credentials (to show the member list). The DS of a meeting knows who is in it
 *   anyway; a PrivateMessage would hide the sender and content from it, but then the DS could
 *   only forward blindly. Group secrets are never in either framing.
 * - Application data is a PrivateMessage (mandatory, RFC 9420 §6.2). A payload for ONE member
 *   (private chat, a poll vote) is additionally sealed to the HPKE key of that member's leaf
 *   (RFC 9420 §5.1.3 EncryptWithLabel) inside the PrivateMessage: every member of the epoch can
 *   decrypt the PrivateMessage, only the recipient can open what is sealed in it.
 * - Welcomes carry the ratchet tree in a ratchet_tree GroupInfo extension (RFC 9420
 *   §12.4.3.3), so a joiner needs nothing but the Welcome.
 */
import {
  createGroup,
  joinGroup,
  createCommit,
  processMessage,
  unprotectPublicMessage,
  bytesToBase64,
  createApplicationMessage,
  decryptSenderData,
  decryptWithLabel,
  encryptWithLabel,
  signWithLabel,
  verifyWithLabel,
  defaultKeyRetentionConfig,
  encodeRatchetTree,
  createGroupInfoWithRatchetTree,
  mlsExporter,
  emptyPskIndex,
  defaultClientConfig,
  type ClientState,
  type ClientConfig,
  type CiphersuiteImpl,
  type Credential,
  type Proposal,
  type RatchetTree,
  type MLSMessage,
  type PrivateMessage,
  type PublicMessage,
  type LeafNode,
  type Extension,
} from "./library.js";
import {
  MEETING_POLICY_EXTENSION_TYPE,
  admitsMember,
  decodeMeetingPolicy,
  encodeMeetingPolicy,
  type MeetingEncryption,
} from "./meeting-policy.js";
import { decodeMemberIdentity, type MemberIdentity } from "./identity.js";
import { DEFAULT_MLS_SUITE, checkSuiteName, suiteImpl, type MlsSuiteName } from "./suites.js";
import { generate, openKeyPackageSecret, consumeKeyPackageSecret, type MlsKeyPackageSecret } from "./keyPackage.js";
import { identityOfLeaf, toSender, type MlsSender } from "./peek.js";
import {
  asProtocolError,
  checkBytes,
  decodeMlsMessageStrict,
  decodeRatchetTreeStrict,
  encodeMlsMessageBytes,
} from "./wire.js";
import { ProtocolError } from "../errors.js";
import { bytesToHex, constantTimeEqual } from "../bytes.js";

/** Decides who may be in the group (e.g. no connectors in an E2EE meeting). */
export type MemberPolicy = (identity: MemberIdentity) => boolean;

export interface MlsSessionOptions {
  suite?: MlsSuiteName;
  /**
   * The meeting's encryption type, bound into the group as a GroupContext extension (default
   * "e2ee"). In an e2ee group every member refuses connector credentials.
   */
  encryption?: MeetingEncryption;
  /**
   * Membership policy, checked for every credential this member validates: KeyPackages it adds,
   * members in a tree it joins, leaves in commits it processes. A refusal fails that operation
   * (MLS_BAD_CREDENTIAL when adding, MLS_COMMIT_REJECTED / MLS_WELCOME_REJECTED otherwise).
   */
  acceptMember?: MemberPolicy;
}

export interface MlsJoinOptions {
  /** Encoded ratchet tree, only needed if the Welcome lacks the ratchet_tree extension. */
  ratchetTree?: Uint8Array;
  /**
   * The encryption the joiner was told the meeting has. A group whose own policy extension says
   * otherwise is refused (MLS_WELCOME_REJECTED), so a server cannot pass off an enhanced group as
   * an end-to-end encrypted one.
   */
  expectedEncryption?: MeetingEncryption;
  acceptMember?: MemberPolicy;
}

export interface MlsCommitRequest {
  /** Encoded MLSMessage(KeyPackage)s of members to add. */
  add?: Uint8Array[];
  /** Leaf indices of members to remove (not this member's own). */
  remove?: number[];
}

export interface MlsCommitOutput {
  /** Encoded MLSMessage(PublicMessage) carrying the Commit: send it to the delivery service. */
  commit: Uint8Array;
  /** Encoded MLSMessage(Welcome) for the added members, with the ratchet tree inside. */
  welcome?: Uint8Array;
  /** The epoch this commit is for (the session's current epoch); it creates epoch + 1. */
  epoch: bigint;
  /** Whether the commit carries an UpdatePath (always true when it removes, or adds nothing). */
  hasUpdatePath: boolean;
}

export interface MlsMember {
  leafIndex: number;
  identity: MemberIdentity;
}

export type MlsProcessResult =
  | {
      /** A commit was applied: the session is now at `epoch`. */
      kind: "commit";
      epoch: bigint;
      sender: MlsSender | undefined;
      added: number[];
      removed: number[];
      /** True when the commit was this member's own pending commit, echoed by the DS. */
      ownCommit: boolean;
      /** True when this member had a pending commit for the same epoch, now dropped. */
      discardedPendingCommit: boolean;
    }
  | {
      /** The commit removed this member; the session can no longer be used. */
      kind: "removed";
      epoch: bigint;
      sender: MlsSender | undefined;
    }
  | { kind: "proposal"; sender: MlsSender | undefined }
  | {
      kind: "application";
      epoch: bigint;
      data: Uint8Array;
      /** The member whose signature the message carries (its leaf in the message's epoch). */
      sender: MlsMember;
      /** That leaf's signature public key (to check what it signs outside MLS, e.g. broadcasts). */
      senderSignatureKey: Uint8Array;
    };

/** What `sealApplicationMessage` sealed to one member: the fields of the `sealed` envelope. */
export interface MlsSealed {
  /** The epoch whose tree held the recipient's key (the PrivateMessage's epoch). */
  epoch: bigint;
  toLeaf: number;
  /** HPKE encapsulated key. */
  enc: Uint8Array;
  ct: Uint8Array;
}

/** RFC 9420 §5.1.3 label of payloads sealed to one member (namespaced for Conclave). */
export const SEALED_LABEL = "conclave sealed to member";

interface PendingCommit {
  bytes: Uint8Array;
  newState: ClientState;
  consumed: Uint8Array[];
}

/** The state before the last commit applied, kept until the delivery service confirms the epoch. */
interface PreviousEpoch {
  state: ClientState;
  /** Secrets of that state the new one no longer needs: wiped on confirmation, not before. */
  consumed: Uint8Array[];
}

const CONSTRUCT = Symbol("MlsSession");
const MAX_GROUP_ID_BYTES = 255;
/** Application-message generations remembered per sender and epoch (replay detection). */
const REPLAY_MEMORY = 1024;
/** Epochs whose application messages are still accepted: ts-mls keeps receive keys for 4 past epochs. */
const APPLICATION_EPOCHS_KEPT = 5n;
/**
 * How far a receiver ratchets forward within one sender's chain in an epoch (RFC 9420 §9.1).
 * Messages addressed to some members only (private chat, votes, state for newcomers) advance the
 * sender's generation for everyone; the others must skip them when its next message arrives.
 * ts-mls defaults to 200; a few HKDF steps per skipped message are cheap.
 */
const MAX_FORWARD_RATCHET_STEPS = 20_000;

export class MlsSession {
  readonly suite: MlsSuiteName;
  #state: ClientState;
  #cs: CiphersuiteImpl;
  #pending: PendingCommit | undefined;
  #previous: PreviousEpoch | undefined;
  #status: "member" | "removed" | "closed" = "member";
  #queue: Promise<unknown> = Promise.resolve();
  /** epoch -> sender leaf -> generations of application messages already accepted. */
  readonly #seenApplication = new Map<bigint, Map<number, Set<number>>>();
  /**
   * This member's leaf HPKE private key in each recent epoch (copies), so a payload sealed to it
   * in epoch n still opens after a commit that renewed its leaf (kept as long as application
   * data of that epoch is accepted; zeroed after).
   */
  readonly #ownLeafKeys = new Map<bigint, Uint8Array>();

  /** @internal Use MlsSession.create or MlsSession.joinFromWelcome. */
  constructor(token: symbol, state: ClientState, cs: CiphersuiteImpl, suite: MlsSuiteName) {
    if (token !== CONSTRUCT) throw new ProtocolError("INVALID_ARGUMENT", "MlsSession: use create() or joinFromWelcome()");
    this.#state = state;
    this.#cs = cs;
    this.suite = suite;
    this.#recordLeafKey();
  }

  /** Founds a new group whose only member (leaf 0) has `identity`, at epoch 0. */
  static async create(groupId: Uint8Array, identity: MemberIdentity, options: MlsSessionOptions = {}): Promise<MlsSession> {
    checkBytes("groupId", groupId);
    if (groupId.length === 0 || groupId.length > MAX_GROUP_ID_BYTES) {
      throw new ProtocolError("INVALID_ARGUMENT", `groupId: expected 1..${MAX_GROUP_ID_BYTES} bytes`);
    }
    const suite = checkSuiteName(options.suite ?? DEFAULT_MLS_SUITE);
    const encryption = options.encryption ?? "e2ee";
    const extension: Extension = { extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption }) };
    const policy = options.acceptMember;
    if ((policy !== undefined && !policy({ ...identity })) || !admitsMember(encryption, identity)) {
      throw new ProtocolError("MLS_BAD_CREDENTIAL", "the founder's identity is refused by the membership policy");
    }
    const cs = await suiteImpl(suite);
    const { publicPackage, secret } = await generate(identity, { suite });
    const { privatePackage } = openKeyPackageSecret(secret);
    let state: ClientState;
    try {
      state = await createGroup(groupId.slice(), publicPackage, privatePackage, [extension], cs, clientConfig(policy));
    } catch (e) {
      throw asProtocolError(e, "INVALID_ARGUMENT", "create");
    }
    consumeKeyPackageSecret(secret); // the founder never decrypts a Welcome: drop the init key
    return new MlsSession(CONSTRUCT, state, cs, suite);
  }

  /**
   * Joins a group from an encoded MLSMessage(Welcome) addressed to the KeyPackage behind
   * `secret`. The secret is single-use; it is consumed only when the join succeeds.
   */
  static async joinFromWelcome(welcome: Uint8Array, secret: MlsKeyPackageSecret, options: MlsJoinOptions = {}): Promise<MlsSession> {
    const ks = openKeyPackageSecret(secret);
    if (ks.used) throw new ProtocolError("MLS_WELCOME_REJECTED", "this key package secret was already used to join a group");
    const msg = decodeMlsMessageStrict(welcome, "welcome");
    if (msg.wireformat !== "mls_welcome") throw new ProtocolError("MLS_BAD_MESSAGE", `welcome: got a ${msg.wireformat}`);
    if (msg.welcome.cipherSuite !== ks.suite) {
      throw new ProtocolError("MLS_WELCOME_REJECTED", "the Welcome's cipher suite differs from the key package's");
    }
    const tree: RatchetTree | undefined =
      options.ratchetTree === undefined ? undefined : decodeRatchetTreeStrict(options.ratchetTree);
    const cs = await suiteImpl(ks.suite);
    let state: ClientState;
    try {
      state = await joinGroup(msg.welcome, ks.publicPackage, ks.privatePackage, emptyPskIndex, cs, tree, undefined, clientConfig(options.acceptMember));
    } catch (e) {
      throw asProtocolError(e, "MLS_WELCOME_REJECTED", "welcome");
    }
    // The group's own policy, authenticated by every member, decides who may be in it.
    let encryption: MeetingEncryption;
    try {
      encryption = groupEncryption(state);
    } catch {
      throw new ProtocolError("MLS_WELCOME_REJECTED", "the group has no valid meeting policy extension (not a Conclave meeting group)");
    }
    if (options.expectedEncryption !== undefined && encryption !== options.expectedEncryption) {
      throw new ProtocolError("MLS_WELCOME_REJECTED", `the group is ${encryption} but the meeting was announced as ${options.expectedEncryption}`);
    }
    const refused = leaves(state.ratchetTree).find(([, c]) => !admitsMember(encryption, identityOfCredential(c)));
    if (refused !== undefined) {
      throw new ProtocolError("MLS_WELCOME_REJECTED", `an end-to-end encrypted group holds a connector (leaf ${refused[0]})`);
    }
    consumeKeyPackageSecret(secret);
    return new MlsSession(CONSTRUCT, state, cs, ks.suite);
  }

  // ---- reading the current epoch ----------------------------------------------------------

  get groupId(): Uint8Array {
    return this.#state.groupContext.groupId.slice();
  }

  get epoch(): bigint {
    return this.#state.groupContext.epoch;
  }

  /** The meeting's encryption type as the group's policy extension states it. */
  get encryption(): MeetingEncryption {
    this.#checkOpen();
    return groupEncryption(this.#state);
  }

  get ownLeafIndex(): number {
    return this.#state.privatePath.leafIndex;
  }

  /** "member" normally; "removed" after processing the commit that removed it; "closed" after close(). */
  get status(): "member" | "removed" | "closed" {
    return this.#status;
  }

  get hasPendingCommit(): boolean {
    return this.#pending !== undefined;
  }

  /** True while the epoch before the last applied commit is kept (until confirmEpoch/revertEpoch). */
  get canRevert(): boolean {
    return this.#previous !== undefined;
  }

  /**
   * The confirmed transcript hash of the current epoch (RFC 9420 §8.2). Public: members report it
   * so the delivery service can check commit signatures against the GroupContext they hold.
   */
  get transcriptHash(): Uint8Array {
    this.#checkUsable();
    return this.#state.groupContext.confirmedTranscriptHash.slice();
  }

  /**
   * RFC 9420 §8.7 epoch_authenticator: equal for all members of an epoch only if they share its
   * key schedule; the security code shown to users is derived from it.
   */
  get epochAuthenticator(): Uint8Array {
    this.#checkUsable();
    return this.#state.keySchedule.epochAuthenticator.slice();
  }

  /** Members in leaf order, with the identity each one's credential carries. */
  members(): MlsMember[] {
    this.#checkOpen();
    return leaves(this.#state.ratchetTree).map(([leafIndex, credential]) => ({
      leafIndex,
      identity: identityOfCredential(credential),
    }));
  }

  /** RFC 9420 §8.5 MLS-Exporter(label, context, length) for the current epoch. */
  async exportSecret(label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
    this.#checkUsable();
    if (typeof label !== "string") throw new ProtocolError("INVALID_ARGUMENT", "label: expected a string");
    checkBytes("context", context);
    // KDFLabel.length is a uint16 and HKDF-Expand yields at most 255 * Nh bytes (RFC 9420 §8).
    const max = Math.min(0xffff, 255 * this.#cs.kdf.size);
    if (!Number.isInteger(length) || length < 1 || length > max) {
      throw new ProtocolError("INVALID_ARGUMENT", `length: expected an integer in 1..${max}`);
    }
    return mlsExporter(this.#state.keySchedule.exporterSecret, label, context, length, this.#cs);
  }

  /**
   * A GroupInfo for the current epoch (RFC 9420 §12.4.3), signed by this member, with the ratchet
   * tree in its ratchet_tree extension, as an encoded MLSMessage. Everything in it is public: the
   * founder gives it to the delivery service so that it can check commits (public-group.ts).
   */
  async publicGroupInfo(): Promise<Uint8Array> {
    return this.#serial(async () => {
      this.#checkUsable();
      const s = this.#state;
      const groupInfo = await createGroupInfoWithRatchetTree(s.groupContext, s.confirmationTag, s, s.ratchetTree, [], this.#cs);
      return encodeMlsMessageBytes({ version: "mls10", wireformat: "mls_group_info", groupInfo });
    });
  }

  /** The current ratchet tree (RFC 9420 §12.4.3.3 encoding), for joiners whose Welcome lacks it. */
  exportRatchetTree(): Uint8Array {
    this.#checkUsable();
    return encodeRatchetTree(this.#state.ratchetTree);
  }

  // ---- changing the group -----------------------------------------------------------------

  /**
   * Builds a pending commit for the current epoch that adds and/or removes members. With neither,
   * it is an empty commit: a pure key update of this member's path (post-compromise security).
   * RFC 9420 §12.4.2: a commit that removes (or adds nothing) carries an UpdatePath; an add-only
   * commit does not (ts-mls 1.6.4 omits it, which the RFC allows).
   */
  commit(request: MlsCommitRequest = {}): Promise<MlsCommitOutput> {
    return this.#serial(async () => {
      this.#checkUsable();
      if (this.#pending !== undefined) throw new ProtocolError("MLS_COMMIT_PENDING");
      const state = this.#state;
      const proposals: Proposal[] = [];

      const removes = request.remove ?? [];
      if (!Array.isArray(removes)) throw new ProtocolError("INVALID_ARGUMENT", "remove: expected an array of leaf indices");
      const present = new Set(leaves(state.ratchetTree).map(([i]) => i));
      const seen = new Set<number>();
      for (const leaf of removes) {
        if (!Number.isInteger(leaf) || leaf < 0) throw new ProtocolError("INVALID_ARGUMENT", "remove: leaf indices are non-negative integers");
        if (!present.has(leaf)) throw new ProtocolError("MLS_UNKNOWN_MEMBER", `remove: no member at leaf ${leaf}`);
        if (leaf === state.privatePath.leafIndex) {
          throw new ProtocolError("INVALID_ARGUMENT", "remove: a member cannot commit its own removal (RFC 9420 §12.2)");
        }
        if (seen.has(leaf)) throw new ProtocolError("INVALID_ARGUMENT", `remove: leaf ${leaf} listed twice`);
        seen.add(leaf);
        proposals.push({ proposalType: "remove", remove: { removed: leaf } });
      }

      const adds = request.add ?? [];
      if (!Array.isArray(adds)) throw new ProtocolError("INVALID_ARGUMENT", "add: expected an array of key packages");
      const policy = state.clientConfig.authService;
      for (const [i, kpBytes] of adds.entries()) {
        const msg = decodeMlsMessageStrict(kpBytes, `add[${i}]`);
        if (msg.wireformat !== "mls_key_package") throw new ProtocolError("MLS_BAD_MESSAGE", `add[${i}]: got a ${msg.wireformat}`);
        const kp = msg.keyPackage;
        if (kp.cipherSuite !== this.suite) {
          throw new ProtocolError("MLS_UNSUPPORTED_SUITE", `add[${i}]: key package is for ${kp.cipherSuite}, the group uses ${this.suite}`);
        }
        const identity = identityOfLeaf(kp.leafNode); // MLS_BAD_CREDENTIAL with the precise reason
        if (!admitsMember(groupEncryption(state), identity)) {
          throw new ProtocolError("MLS_BAD_CREDENTIAL", `add[${i}]: an end-to-end encrypted group admits no connectors`);
        }
        if (!(await policy.validateCredential(kp.leafNode.credential, kp.leafNode.signaturePublicKey))) {
          throw new ProtocolError("MLS_BAD_CREDENTIAL", `add[${i}]: refused by the membership policy`);
        }
        proposals.push({ proposalType: "add", add: { keyPackage: kp } });
      }

      let result;
      try {
        result = await createCommit(
          { state, cipherSuite: this.#cs },
          { wireAsPublicMessage: true, extraProposals: proposals, ratchetTreeExtension: true },
        );
      } catch (e) {
        // Key package signature, lifetime or key-uniqueness failures land here.
        throw asProtocolError(e, "INVALID_ARGUMENT", "commit");
      }
      const hasUpdatePath = commitHasPath(result.commit);
      // RFC 9420 §12.4.2: Remove (and an empty commit) require a path. ts-mls 1.6.4 does this; this
      // check keeps a library change (2.0.0-rc.10 skipped it for a single Remove) from silently
      // weakening removals.
      if ((removes.length > 0 || proposals.length === 0) && !hasUpdatePath) {
        throw new ProtocolError("MLS_COMMIT_REJECTED", "the MLS library built a removal commit without an UpdatePath; refusing to send it");
      }
      const bytes = encodeMlsMessageBytes(result.commit);
      this.#pending = { bytes, newState: result.newState, consumed: result.consumed };
      const out: MlsCommitOutput = { commit: bytes, epoch: state.groupContext.epoch, hasUpdatePath };
      if (result.welcome !== undefined) {
        out.welcome = encodeMlsMessageBytes({ version: "mls10", wireformat: "mls_welcome", welcome: result.welcome });
      }
      return out;
    });
  }

  /** The DS accepted this member's pending commit: move to the next epoch. Returns the new epoch. */
  applyPendingCommit(): Promise<bigint> {
    return this.#serial(async () => {
      this.#checkUsable();
      if (this.#pending === undefined) throw new ProtocolError("MLS_NO_PENDING_COMMIT");
      this.#adoptPending();
      return this.epoch;
    });
  }

  /**
   * The delivery service confirmed the current epoch: forget the one before it, and wipe the
   * secrets only it needed (forward secrecy, RFC 9420 §9.2). Does nothing if none is kept.
   */
  confirmEpoch(): Promise<void> {
    return this.#serial(async () => {
      this.#dropPrevious();
    });
  }

  /**
   * The delivery service voided the last commit this member applied (other members could not
   * apply it): go back to the epoch before it. Resolves to that epoch; MLS_CANNOT_REVERT when no
   * earlier epoch is kept. The voided epoch's secrets are wiped.
   */
  revertEpoch(): Promise<bigint> {
    return this.#serial(async () => {
      this.#checkUsable();
      const previous = this.#previous;
      if (previous === undefined) throw new ProtocolError("MLS_CANNOT_REVERT");
      this.#previous = undefined;
      this.#pending = undefined;
      const voided = this.#state;
      this.#state = previous.state;
      // The voided epoch's leaf key (kept for payloads sealed to this member) goes with it.
      const voidedKey = this.#ownLeafKeys.get(voided.groupContext.epoch);
      if (voidedKey !== undefined && voided.groupContext.epoch !== previous.state.groupContext.epoch) {
        voidedKey.fill(0);
        this.#ownLeafKeys.delete(voided.groupContext.epoch);
      }
      // Only the voided epoch's own key schedule: its tree and private path share arrays with the
      // state we return to.
      for (const v of Object.values(voided.keySchedule)) v.fill(0);
      return this.epoch;
    });
  }

  /** The DS rejected this member's pending commit: forget it. Does nothing if there is none. */
  discardPendingCommit(): Promise<void> {
    return this.#serial(async () => {
      this.#pending = undefined;
    });
  }

  /**
   * Processes an encoded MLSMessage from the group: another member's commit or proposal, this
   * member's own pending commit echoed by the DS, or application data.
   *
   * Errors (the session stays at its current epoch, usable): MLS_BAD_MESSAGE (undecodable, not a
   * group message, or for another group), MLS_WRONG_EPOCH (a handshake message for any epoch but
   * the current one, or application data for an epoch no longer kept), MLS_COMMIT_REJECTED (the
   * commit does not verify or is invalid), MLS_MESSAGE_REJECTED (a proposal or application message
   * that does not verify).
   */
  processMessage(bytes: Uint8Array): Promise<MlsProcessResult> {
    return this.#serial(async () => {
      this.#checkUsable();
      const msg = decodeMlsMessageStrict(bytes, "message");
      const state = this.#state;
      let groupId: Uint8Array, epoch: bigint, contentType: "application" | "proposal" | "commit";
      let sender: MlsSender | undefined;
      if (msg.wireformat === "mls_public_message") {
        const c = msg.publicMessage.content;
        ({ groupId, epoch, contentType } = c);
        sender = toSender(c.sender);
        if (contentType === "application") throw new ProtocolError("MLS_BAD_MESSAGE", "application data must not be sent as a PublicMessage");
      } else if (msg.wireformat === "mls_private_message") {
        ({ groupId, epoch, contentType } = msg.privateMessage);
      } else {
        throw new ProtocolError("MLS_BAD_MESSAGE", `message: a ${msg.wireformat} is not a group message`);
      }
      if (!constantTimeEqual(groupId, state.groupContext.groupId)) {
        throw new ProtocolError("MLS_BAD_MESSAGE", "message: addressed to another group");
      }
      const current = state.groupContext.epoch;

      // The DS broadcasting this member's own commit means it won the epoch.
      if (contentType === "commit" && this.#pending !== undefined && constantTimeEqual(bytes, this.#pending.bytes)) {
        const before = state.ratchetTree;
        this.#adoptPending();
        return { kind: "commit", epoch: this.epoch, sender, ...leafDiff(before, this.#state.ratchetTree), ownCommit: true, discardedPendingCommit: false };
      }

      if (contentType !== "application") {
        if (epoch !== current) {
          throw new ProtocolError("MLS_WRONG_EPOCH", `${contentType} for epoch ${epoch}, the group is at epoch ${current}`);
        }
      } else if (epoch > current || (epoch < current && !state.historicalReceiverData.has(epoch))) {
        throw new ProtocolError("MLS_WRONG_EPOCH", `application data for epoch ${epoch}, the group is at epoch ${current}`);
      }

      // A commit that removes this member: authenticate it, then stop. ts-mls 1.6.4 recognises
      // self-removal only when the removed leaf ends up blank, so a commit that also adds a member
      // into the freed leaf makes it try to decrypt a path it is excluded from and fail; checking
      // the proposals here gives the removed member the right answer in every case.
      if (msg.wireformat === "mls_public_message" && removesLeaf(msg.publicMessage, state, state.privatePath.leafIndex)) {
        try {
          await unprotectPublicMessage(state.keySchedule.membershipKey, state.groupContext, state.ratchetTree, msg.publicMessage, this.#cs);
        } catch (e) {
          throw asProtocolError(e, "MLS_COMMIT_REJECTED", "commit");
        }
        this.#pending = undefined;
        this.#status = "removed";
        return { kind: "removed", epoch: current + 1n, sender };
      }

      // Application data: who sent it (RFC 9420 §6.3.2 sender data) and whether it is a replay,
      // before ts-mls spends a ratchet step on it.
      const app = msg.wireformat === "mls_private_message" && contentType === "application" ? await this.#applicationSender(msg.privateMessage, state) : null;

      let result;
      try {
        result = await processMessage(asGroupMessage(msg), state, emptyPskIndex, () => "accept", this.#cs);
      } catch (e) {
        throw asProtocolError(e, contentType === "commit" ? "MLS_COMMIT_REJECTED" : "MLS_MESSAGE_REJECTED", contentType);
      }

      if (result.kind === "applicationMessage") {
        if (!app) throw new ProtocolError("MLS_MESSAGE_REJECTED", "application data without sender data");
        this.#state = result.newState;
        wipe(result.consumed);
        this.#rememberApplication(epoch, app.sender.leafIndex, app.generation);
        return { kind: "application", epoch, data: result.message, sender: app.sender, senderSignatureKey: app.signatureKey };
      }
      const next = result.newState;
      if (contentType === "proposal") {
        this.#state = next;
        wipe(result.consumed);
        return { kind: "proposal", sender };
      }
      // A commit from another member won this epoch: any pending commit of ours is now stale.
      const discardedPendingCommit = this.#pending !== undefined;
      this.#pending = undefined;
      if (next.groupActiveState.kind === "removedFromGroup") {
        this.#state = next;
        this.#status = "removed";
        wipe(result.consumed);
        return { kind: "removed", epoch: current + 1n, sender };
      }
      if (next.groupContext.epoch !== current + 1n) {
        throw new ProtocolError("MLS_COMMIT_REJECTED", "the commit did not advance the epoch by one");
      }
      // The meeting policy is fixed for the group's life, and every member enforces it.
      if (!sameExtension(policyExtension(state), policyExtension(next))) {
        throw new ProtocolError("MLS_COMMIT_REJECTED", "the commit changes the meeting's encryption policy");
      }
      const encryption = groupEncryption(state);
      const refused = leaves(next.ratchetTree).find(([, c]) => !admitsMember(encryption, identityOfCredential(c)));
      if (refused !== undefined) {
        throw new ProtocolError("MLS_COMMIT_REJECTED", `the commit adds a connector (leaf ${refused[0]}) to an end-to-end encrypted group`);
      }
      const diff = leafDiff(state.ratchetTree, next.ratchetTree);
      this.#keepPrevious(result.consumed);
      this.#state = next;
      this.#recordLeafKey();
      return { kind: "commit", epoch: next.groupContext.epoch, sender, ...diff, ownCommit: false, discardedPendingCommit };
    });
  }

  /** Encrypts application data for the current epoch as an encoded MLSMessage(PrivateMessage). */
  encryptApplicationMessage(data: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      checkBytes("data", data);
      this.#checkUsable();
      let result;
      try {
        result = await createApplicationMessage(this.#state, data, this.#cs);
      } catch (e) {
        throw asProtocolError(e, "MLS_MESSAGE_REJECTED", "application message");
      }
      this.#state = result.newState;
      wipe(result.consumed);
      return encodeMlsMessageBytes({ version: "mls10", wireformat: "mls_private_message", privateMessage: result.privateMessage });
    });
  }

  /**
   * Seals `payload` to the member at `toLeaf` and encrypts the envelope built by `wrap` as a
   * PrivateMessage, both in the current epoch (one step: no commit can come in between).
   *
   * Sealing is RFC 9420 §5.1.3 EncryptWithLabel(leaf HPKE key, SEALED_LABEL, context) where the
   * context binds group id, epoch, the sender's leaf and the recipient's leaf: a member cannot
   * pass someone else's sealed payload off as its own (the recipient opens it with the sender the
   * PrivateMessage authenticates), and it opens only with the recipient's leaf private key.
   */
  sealApplicationMessage(toLeaf: number, payload: Uint8Array, wrap: (sealed: MlsSealed) => Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      checkBytes("payload", payload);
      this.#checkUsable();
      const state = this.#state;
      if (!Number.isInteger(toLeaf) || toLeaf < 0) throw new ProtocolError("INVALID_ARGUMENT", "toLeaf: expected a leaf index");
      if (toLeaf === state.privatePath.leafIndex) throw new ProtocolError("INVALID_ARGUMENT", "toLeaf: sealing to oneself");
      const leaf = leafNodeAt(state.ratchetTree, toLeaf);
      if (leaf === undefined) throw new ProtocolError("MLS_UNKNOWN_MEMBER", `no member at leaf ${toLeaf}`);
      const epoch = state.groupContext.epoch;
      let sealed: { ct: Uint8Array; enc: Uint8Array };
      try {
        const publicKey = await this.#cs.hpke.importPublicKey(leaf.hpkePublicKey);
        sealed = await encryptWithLabel(publicKey, SEALED_LABEL, this.#sealContext(epoch, state.privatePath.leafIndex, toLeaf), payload, this.#cs.hpke);
      } catch (e) {
        throw asProtocolError(e, "MLS_MESSAGE_REJECTED", "seal");
      }
      const data = wrap({ epoch, toLeaf, enc: sealed.enc, ct: sealed.ct });
      checkBytes("data", data);
      let result;
      try {
        result = await createApplicationMessage(state, data, this.#cs);
      } catch (e) {
        throw asProtocolError(e, "MLS_MESSAGE_REJECTED", "application message");
      }
      this.#state = result.newState;
      wipe(result.consumed);
      return encodeMlsMessageBytes({ version: "mls10", wireformat: "mls_private_message", privateMessage: result.privateMessage });
    });
  }

  /**
   * Opens a payload sealed to this member in `epoch` by the member at `fromLeaf` (the sender the
   * PrivateMessage carrying it authenticated). MLS_MESSAGE_REJECTED when it was sealed to someone
   * else, altered, or claims another sender; MLS_WRONG_EPOCH when that epoch's key is gone.
   */
  openSealed(sealed: MlsSealed, fromLeaf: number): Promise<Uint8Array> {
    return this.#serial(async () => {
      this.#checkUsable();
      const key = this.#ownLeafKeys.get(sealed.epoch);
      if (key === undefined) throw new ProtocolError("MLS_WRONG_EPOCH", `no leaf key kept for epoch ${sealed.epoch}`);
      try {
        const privateKey = await this.#cs.hpke.importPrivateKey(key);
        return await decryptWithLabel(privateKey, SEALED_LABEL, this.#sealContext(sealed.epoch, fromLeaf, sealed.toLeaf), sealed.enc, sealed.ct, this.#cs.hpke);
      } catch (e) {
        throw asProtocolError(e, "MLS_MESSAGE_REJECTED", "sealed payload does not open with this member's key");
      }
    });
  }

  /** RFC 9420 §5.1.2 SignWithLabel with this member's leaf signature key (e.g. host broadcasts). */
  async signWithLabel(label: string, content: Uint8Array): Promise<Uint8Array> {
    this.#checkUsable();
    checkBytes("content", content);
    return signWithLabel(this.#state.signaturePrivateKey, label, content, this.#cs.signature);
  }

  /** This member's leaf signature public key (what others check its signatures with). */
  get signaturePublicKey(): Uint8Array {
    this.#checkUsable();
    const leaf = leafNodeAt(this.#state.ratchetTree, this.#state.privatePath.leafIndex);
    if (leaf === undefined) throw new ProtocolError("MLS_UNKNOWN_MEMBER", "own leaf is blank");
    return leaf.signaturePublicKey.slice();
  }

  /**
   * RFC 9420 §5.1.2 VerifyWithLabel under a member's signature public key (from a message it sent,
   * `senderSignatureKey`). Needs no group state: a member that moved to another group can still
   * check what a host of the first one signed.
   */
  static async verifyWithLabel(suite: MlsSuiteName, publicKey: Uint8Array, label: string, content: Uint8Array, signature: Uint8Array): Promise<boolean> {
    checkBytes("publicKey", publicKey);
    checkBytes("content", content);
    checkBytes("signature", signature);
    const cs = await suiteImpl(checkSuiteName(suite));
    try {
      return await verifyWithLabel(publicKey, label, content, signature, cs.signature);
    } catch {
      return false;
    }
  }

  /**
   * Erases this member's keys (epoch secrets, path and leaf private keys, signature key) and ends
   * the session; later calls fail with MLS_SESSION_CLOSED. Idempotent. Call it on leaving a
   * meeting, so a later compromise of the device does not expose the meeting's keys.
   */
  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#status === "closed") return;
      this.#status = "closed";
      this.#pending = undefined;
      if (this.#previous !== undefined) {
        for (const v of Object.values(this.#previous.state.keySchedule)) v.fill(0);
        this.#dropPrevious();
      }
      const s = this.#state;
      for (const v of Object.values(s.keySchedule)) v.fill(0);
      for (const k of Object.values(s.privatePath.privateKeys)) k.fill(0);
      for (const k of this.#ownLeafKeys.values()) k.fill(0);
      this.#ownLeafKeys.clear();
      s.signaturePrivateKey.fill(0);
    });
  }

  // ---- internals ----------------------------------------------------------------------------

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #checkOpen(): void {
    if (this.#status === "closed") throw new ProtocolError("MLS_SESSION_CLOSED");
  }

  #checkUsable(): void {
    this.#checkOpen();
    if (this.#status === "removed") throw new ProtocolError("MLS_REMOVED");
  }

  /**
   * The sender of a PrivateMessage carrying application data: its sender data decrypted with the
   * epoch's sender_data_secret (RFC 9420 §6.3.2). The identity comes from the tree of that epoch,
   * since the leaf may hold someone else by now. A generation already accepted is a replay.
   */
  async #applicationSender(pm: PrivateMessage, state: ClientState): Promise<{ sender: MlsMember; generation: number; signatureKey: Uint8Array }> {
    const epoch = pm.epoch;
    const receiver = epoch === state.groupContext.epoch
      ? { senderDataSecret: state.keySchedule.senderDataSecret, ratchetTree: state.ratchetTree }
      : state.historicalReceiverData.get(epoch);
    if (receiver === undefined) throw new ProtocolError("MLS_WRONG_EPOCH", `application data for epoch ${epoch}, no longer kept`);
    let senderData;
    try {
      senderData = await decryptSenderData(pm, receiver.senderDataSecret, this.#cs);
    } catch (e) {
      throw asProtocolError(e, "MLS_MESSAGE_REJECTED", "sender data");
    }
    if (senderData === undefined) throw new ProtocolError("MLS_MESSAGE_REJECTED", "sender data does not decode");
    const leafIndex = senderData.leafIndex;
    const leaf = leafNodeAt(receiver.ratchetTree, leafIndex);
    if (leaf === undefined) throw new ProtocolError("MLS_MESSAGE_REJECTED", `sender data names leaf ${leafIndex}, which is blank`);
    if (this.#seenApplication.get(epoch)?.get(leafIndex)?.has(senderData.generation)) {
      throw new ProtocolError("MLS_REPLAY", `leaf ${leafIndex}, epoch ${epoch}, generation ${senderData.generation}`);
    }
    return {
      sender: { leafIndex, identity: identityOfCredential(leaf.credential) },
      generation: senderData.generation,
      signatureKey: leaf.signaturePublicKey.slice(),
    };
  }

  #rememberApplication(epoch: bigint, leaf: number, generation: number): void {
    let byLeaf = this.#seenApplication.get(epoch);
    if (!byLeaf) this.#seenApplication.set(epoch, (byLeaf = new Map()));
    let seen = byLeaf.get(leaf);
    if (!seen) byLeaf.set(leaf, (seen = new Set()));
    seen.add(generation);
    // Generations only grow; ts-mls refuses ones this far back anyway (no key kept for them).
    if (seen.size > REPLAY_MEMORY) for (const g of [...seen].sort((a, b) => a - b).slice(0, seen.size - REPLAY_MEMORY)) seen.delete(g);
    for (const e of this.#seenApplication.keys()) if (e + APPLICATION_EPOCHS_KEPT <= this.#state.groupContext.epoch) this.#seenApplication.delete(e);
  }

  #adoptPending(): void {
    const pending = this.#pending!;
    this.#pending = undefined;
    this.#keepPrevious(pending.consumed);
    this.#state = pending.newState;
    this.#recordLeafKey();
  }

  /** Keeps a copy of this member's leaf private key for the current epoch; forgets old ones. */
  #recordLeafKey(): void {
    const state = this.#state;
    const epoch = state.groupContext.epoch;
    const key = state.privatePath.privateKeys[state.privatePath.leafIndex * 2];
    if (key !== undefined && !this.#ownLeafKeys.has(epoch)) this.#ownLeafKeys.set(epoch, key.slice());
    for (const [e, k] of this.#ownLeafKeys) {
      if (e + APPLICATION_EPOCHS_KEPT <= epoch) {
        k.fill(0);
        this.#ownLeafKeys.delete(e);
      }
    }
  }

  /** RFC 9420 §5.1.3 EncryptContext for a sealed payload: which group, epoch, sender and recipient. */
  #sealContext(epoch: bigint, fromLeaf: number, toLeaf: number): Uint8Array {
    const groupId = this.#state.groupContext.groupId;
    const out = new Uint8Array(1 + groupId.length + 8 + 4 + 4);
    const view = new DataView(out.buffer);
    out[0] = groupId.length;
    out.set(groupId, 1);
    view.setBigUint64(1 + groupId.length, epoch);
    view.setUint32(9 + groupId.length, fromLeaf);
    view.setUint32(13 + groupId.length, toLeaf);
    return out;
  }

  /**
   * Keeps the current state (about to be replaced by a commit) so the commit can be voided. Only
   * one is kept: the delivery service confirms an epoch before it orders the next commit, so an
   * older one still kept here is confirmed implicitly.
   */
  #keepPrevious(consumed: Uint8Array[]): void {
    this.#dropPrevious();
    this.#previous = { state: this.#state, consumed };
  }

  #dropPrevious(): void {
    const previous = this.#previous;
    this.#previous = undefined;
    if (previous !== undefined) wipe(previous.consumed);
  }
}

function clientConfig(policy: MemberPolicy | undefined): ClientConfig {
  return {
    ...defaultClientConfig,
    keyRetentionConfig: { ...defaultKeyRetentionConfig, maximumForwardRatchetSteps: MAX_FORWARD_RATCHET_STEPS },
    authService: {
      // Called by ts-mls for every leaf it validates. A basic credential is accepted when its
      // identity decodes strictly and the policy (if any) admits it.
      async validateCredential(credential: Credential): Promise<boolean> {
        try {
          const identity = identityOfCredential(credential);
          return policy === undefined || policy(identity) === true;
        } catch {
          return false;
        }
      },
    },
  };
}

function policyExtension(state: ClientState): Extension | undefined {
  const found = state.groupContext.extensions.filter((e) => e.extensionType === MEETING_POLICY_EXTENSION_TYPE);
  return found.length === 1 ? found[0] : undefined;
}

/** The group's encryption from its policy extension; MLS_BAD_MESSAGE when it is missing or malformed. */
function groupEncryption(state: ClientState): MeetingEncryption {
  const ext = policyExtension(state);
  if (ext === undefined) throw new ProtocolError("MLS_BAD_MESSAGE", "the group has no (or more than one) meeting policy extension");
  return decodeMeetingPolicy(ext.extensionData).encryption;
}

function sameExtension(a: Extension | undefined, b: Extension | undefined): boolean {
  return a !== undefined && b !== undefined && constantTimeEqual(a.extensionData, b.extensionData);
}

function identityOfCredential(credential: Credential): MemberIdentity {
  if (credential.credentialType !== "basic") throw new ProtocolError("MLS_BAD_CREDENTIAL", "expected a basic credential");
  return decodeMemberIdentity(credential.identity);
}

/** Non-blank leaves of a ratchet tree as [leafIndex, credential] (leaf i is node 2i, RFC 9420 §4.2). */
function leaves(tree: RatchetTree): [number, Credential][] {
  const out: [number, Credential][] = [];
  for (let node = 0; node < tree.length; node += 2) {
    const n = tree[node];
    if (n?.nodeType === "leaf") out.push([node / 2, n.leaf.credential]);
  }
  return out;
}

/** The leaf node at `leafIndex`, or undefined when that leaf is blank or beyond the tree. */
function leafNodeAt(tree: RatchetTree, leafIndex: number): LeafNode | undefined {
  const n = tree[leafIndex * 2];
  return n?.nodeType === "leaf" ? n.leaf : undefined;
}

/** Leaves whose occupant changed between two trees, keyed by signature key (stable across updates). */
function leafDiff(before: RatchetTree, after: RatchetTree): { added: number[]; removed: number[] } {
  const keyAt = (tree: RatchetTree): Map<number, string> => {
    const m = new Map<number, string>();
    for (let node = 0; node < tree.length; node += 2) {
      const n = tree[node];
      if (n?.nodeType === "leaf") m.set(node / 2, bytesToHex(n.leaf.signaturePublicKey));
    }
    return m;
  };
  const b = keyAt(before);
  const a = keyAt(after);
  const removed = [...b].filter(([i, k]) => a.get(i) !== k).map(([i]) => i);
  const added = [...a].filter(([i, k]) => b.get(i) !== k).map(([i]) => i);
  return { added, removed };
}

function commitHasPath(message: MLSMessage): boolean {
  if (message.wireformat !== "mls_public_message") return false;
  const c = message.publicMessage.content;
  return c.contentType === "commit" && c.commit.path !== undefined;
}

/** Whether a PublicMessage commit removes `leaf`, by value or through a proposal it references. */
function removesLeaf(pm: PublicMessage, state: ClientState, leaf: number): boolean {
  const c = pm.content;
  if (c.contentType !== "commit") return false;
  return c.commit.proposals.some((p) => {
    const proposal = p.proposalOrRefType === "proposal" ? p.proposal : state.unappliedProposals[bytesToBase64(p.reference)]?.proposal;
    return proposal?.proposalType === "remove" && proposal.remove.removed === leaf;
  });
}

function asGroupMessage(msg: MLSMessage): Parameters<typeof processMessage>[0] {
  if (msg.wireformat === "mls_public_message" || msg.wireformat === "mls_private_message") return msg;
  throw new ProtocolError("MLS_BAD_MESSAGE", "not a group message");
}

/** Zeroes secrets the library reports as no longer needed (forward secrecy, RFC 9420 §9.2). */
function wipe(consumed: Uint8Array[]): void {
  for (const c of consumed) c.fill(0);
}
