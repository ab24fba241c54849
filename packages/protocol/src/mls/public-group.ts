/**
 * The public half of an MLS group (RFC 9420), as the delivery service (DS) can keep it without any
 * group secret: the ratchet tree's public nodes, the GroupContext and the last confirmation tag.
 *
 * With it the DS checks every commit before it forwards one (docs/protocol.md §4, "What the
 * delivery service checks"):
 * - framing: an MLSMessage PublicMessage carrying a Commit, for this group and the current epoch,
 *   from a member sender at the leaf the DS asked to commit, with no authenticated data;
 * - proposals: only Add and Remove, all by value, exactly the key packages and leaves requested;
 *   every added KeyPackage verifies (signature, leaf node signature, keys distinct) and names the
 *   member the DS expects;
 * - the UpdatePath (required when the commit removes or adds nothing): its leaf node is signed by
 *   the committer's unchanged signature key over the group id and leaf index, keeps the committer's
 *   credential, its public keys are new, it covers exactly the filtered direct path, its parent
 *   hashes chain to the leaf (RFC 9420 §7.9), and it carries one encrypted path secret for every
 *   node of each copath resolution (less the joiners);
 * - the Welcome (required when the commit adds): one EncryptedGroupSecrets for each added
 *   KeyPackage, by KeyPackageRef, and nobody else;
 * - the signature over FramedContentTBS, which includes the GroupContext (RFC 9420 §6.1), with the
 *   committer's signature key from the tree.
 *
 * What it cannot check (only members can): the membership tag (needs the membership key), the
 * confirmation tag (needs the confirmation key), whether the HPKE-encrypted path secrets decrypt
 * and agree with the path's public keys, and whether the Welcome's encrypted GroupInfo and group
 * secrets are sound. A commit that fails there is reported by members, and the DS rolls the group
 * back (docs/protocol.md §6, "Recovery from a commit members cannot apply").
 *
 * Trust on first use: the epoch-0 state comes from the founder's signed GroupInfo. Its tree, tree
 * hash and signature are checked; its confirmation tag (which feeds the interim transcript hash)
 * cannot be. Later transcript hashes are computed here from public data; members also report the
 * transcript hash they reach, and a commit's signature is accepted if it verifies under the
 * computed context or one a member reported (`transcriptCandidates`), so a founder that lied about
 * its tag cannot make the DS refuse honest commits.
 *
 * Values are immutable: checkCommit returns the next state and leaves this one as it was, so the
 * DS rolls back by keeping the previous object.
 */
import {
  applyProposals,
  applyUpdatePath,
  defaultClientConfig,
  emptyPskIndex,
  encodeKeyPackage,
  filteredDirectPathAndCopathResolution,
  leafToNodeIndex,
  makeKeyPackageRef,
  nextEpochContext,
  ratchetTreeFromExtension,
  toLeafIndex,
  treeHashRoot,
  validateLeafNodeCredentialAndKeyUniqueness,
  validateLeafNodeUpdateOrCommit,
  validateRatchetTree,
  verifyFramedContentSignature,
  verifyGroupInfoSignature,
  verifyKeyPackage,
  verifyLeafNodeSignatureKeyPackage,
  type CiphersuiteImpl,
  type ClientConfig,
  type ClientState,
  type Credential,
  type GroupContext,
  type KeyPackage,
  type RatchetTree,
} from "./library.js";
import { decodeMemberIdentity, type MemberIdentity } from "./identity.js";
import { isMlsSuiteName, suiteImpl, type MlsSuiteName } from "./suites.js";
import { decodeMlsMessageStrict, reason } from "./wire.js";
import { ProtocolError } from "../errors.js";
import { bytesToHex, constantTimeEqual } from "../bytes.js";

/** What the DS asked one member to commit. */
export interface CommitExpectation {
  /** Leaf index of the member asked to commit (the commit's sender must be this leaf). */
  committerLeaf: number;
  /** Encoded MLSMessage(KeyPackage)s the commit must add: exactly these, each once. */
  add: readonly Uint8Array[];
  /** Leaf indices the commit must remove: exactly these. */
  remove: readonly number[];
  /** Encoded MLSMessage(Welcome) sent along; required exactly when the commit adds. */
  welcome?: Uint8Array;
}

export interface PublicMember {
  leafIndex: number;
  identity: MemberIdentity;
}

/** A key package the DS accepted: its suite and the identity its credential names. */
export interface CheckedKeyPackage {
  suite: MlsSuiteName;
  identity: MemberIdentity;
}

const CONSTRUCT = Symbol("PublicGroup");
/** Distinct reported transcript hashes tried per commit, at most (each costs a signature check). */
export const MAX_TRANSCRIPT_CANDIDATES = 4;

export class PublicGroup {
  readonly suite: MlsSuiteName;
  readonly #cs: CiphersuiteImpl;
  readonly #context: GroupContext;
  readonly #tree: RatchetTree;
  readonly #confirmationTag: Uint8Array;

  /** @internal Use PublicGroup.fromGroupInfo. */
  constructor(token: symbol, suite: MlsSuiteName, cs: CiphersuiteImpl, context: GroupContext, tree: RatchetTree, confirmationTag: Uint8Array) {
    if (token !== CONSTRUCT) throw new ProtocolError("INVALID_ARGUMENT", "PublicGroup: use fromGroupInfo()");
    this.suite = suite;
    this.#cs = cs;
    this.#context = context;
    this.#tree = tree;
    this.#confirmationTag = confirmationTag;
  }

  /**
   * The founder's public state at epoch 0: an encoded MLSMessage(GroupInfo) with the ratchet_tree
   * extension, signed by the founder. Checked: group id, epoch 0, empty confirmed transcript hash,
   * the tree (leaf signatures, credentials, tree hash), and the GroupInfo signature by its signer.
   */
  static async fromGroupInfo(bytes: Uint8Array, expect: { groupId: Uint8Array; suite: MlsSuiteName }): Promise<PublicGroup> {
    const msg = decodeMlsMessageStrict(bytes, "groupInfo");
    if (msg.wireformat !== "mls_group_info") throw new ProtocolError("MLS_BAD_MESSAGE", `groupInfo: got a ${msg.wireformat}`);
    const gi = msg.groupInfo;
    const ctx = gi.groupContext;
    if (ctx.cipherSuite !== expect.suite || !isMlsSuiteName(ctx.cipherSuite)) throw new ProtocolError("MLS_UNSUPPORTED_SUITE", "groupInfo: another cipher suite");
    if (!constantTimeEqual(ctx.groupId, expect.groupId)) throw new ProtocolError("MLS_BAD_MESSAGE", "groupInfo: another group");
    if (ctx.epoch !== 0n || ctx.confirmedTranscriptHash.length !== 0) throw new ProtocolError("MLS_BAD_MESSAGE", "groupInfo: not a new group at epoch 0");
    const cs = await suiteImpl(ctx.cipherSuite);
    let tree: RatchetTree | undefined;
    try {
      tree = ratchetTreeFromExtension(gi);
    } catch (e) {
      throw new ProtocolError("MLS_BAD_MESSAGE", `groupInfo: ratchet tree: ${reason(e)}`);
    }
    if (tree === undefined) throw new ProtocolError("MLS_BAD_MESSAGE", "groupInfo: no ratchet_tree extension");
    const signer = tree[leafToNodeIndex(toLeafIndex(gi.signer))];
    if (signer?.nodeType !== "leaf") throw new ProtocolError("MLS_BAD_MESSAGE", "groupInfo: the signer is not a member");
    const err = await validateRatchetTree(tree, ctx, defaultClientConfig.lifetimeConfig, config.authService, ctx.treeHash, cs).catch((e: unknown) => e);
    if (err !== undefined) throw new ProtocolError("MLS_BAD_MESSAGE", `groupInfo: ${reason(err)}`);
    if (!(await verifies(verifyGroupInfoSignature(gi, signer.leaf.signaturePublicKey, cs.signature)))) {
      throw new ProtocolError("MLS_BAD_MESSAGE", "groupInfo: the signature does not verify");
    }
    return new PublicGroup(CONSTRUCT, ctx.cipherSuite, cs, ctx, tree, gi.confirmationTag);
  }

  get epoch(): bigint {
    return this.#context.epoch;
  }

  get groupId(): Uint8Array {
    return this.#context.groupId.slice();
  }

  /** The confirmed transcript hash of the current epoch (public; members report theirs). */
  get transcriptHash(): Uint8Array {
    return this.#context.confirmedTranscriptHash.slice();
  }

  /** Members in leaf order, from the public tree. */
  members(): PublicMember[] {
    const out: PublicMember[] = [];
    for (let node = 0; node < this.#tree.length; node += 2) {
      const n = this.#tree[node];
      if (n?.nodeType === "leaf") out.push({ leafIndex: node / 2, identity: identityOf(n.leaf.credential) });
    }
    return out;
  }

  /** The leaf of the member whose credential names `memberId`, if any. */
  leafOf(memberId: string): number | undefined {
    return this.members().find((m) => m.identity.memberId === memberId)?.leafIndex;
  }

  /**
   * Checks a commit against what the DS asked for (see the module comment). Resolves to the public
   * state of the next epoch; rejects with MLS_COMMIT_REJECTED (or MLS_BAD_MESSAGE) saying why.
   */
  async checkCommit(commitBytes: Uint8Array, expect: CommitExpectation, transcriptCandidates: readonly Uint8Array[] = []): Promise<PublicGroup> {
    const refuse = (why: string): never => {
      throw new ProtocolError("MLS_COMMIT_REJECTED", why);
    };
    const msg = decodeMlsMessageStrict(commitBytes, "commit");
    if (msg.wireformat !== "mls_public_message") return refuse(`a ${msg.wireformat}, not a PublicMessage`);
    const pm = msg.publicMessage;
    const content = pm.content;
    if (content.contentType !== "commit") return refuse(`a ${content.contentType}, not a commit`);
    if (!constantTimeEqual(content.groupId, this.#context.groupId)) return refuse("for another group");
    if (content.epoch !== this.#context.epoch) return refuse(`for epoch ${content.epoch}, the group is at epoch ${this.#context.epoch}`);
    if (content.sender.senderType !== "member" || pm.senderType !== "member") return refuse("not sent by a member");
    if (content.sender.leafIndex !== expect.committerLeaf) return refuse(`sent as leaf ${content.sender.leafIndex}, not by the member asked to commit`);
    if (content.authenticatedData.length !== 0) return refuse("carries authenticated data");
    if (pm.auth.contentType !== "commit") return refuse("no confirmation tag");
    const committer = this.#tree[leafToNodeIndex(toLeafIndex(expect.committerLeaf))];
    if (committer?.nodeType !== "leaf") return refuse("the committer's leaf is blank");

    // Proposals: only the requested Adds and Removes, by value (RFC 9420 §12.4: a commit's
    // proposals; references would point at proposals the DS never forwarded).
    const wantAdds = new Map<string, number>();
    for (const kp of expect.add) {
      const key = bytesToHex(encodeKeyPackage(innerKeyPackage(kp)));
      wantAdds.set(key, (wantAdds.get(key) ?? 0) + 1);
    }
    const wantRemoves = new Set(expect.remove);
    const added: KeyPackage[] = [];
    const removed = new Set<number>();
    for (const p of content.commit.proposals) {
      if (p.proposalOrRefType !== "proposal") return refuse("includes a proposal by reference");
      const proposal = p.proposal;
      if (proposal.proposalType === "add") {
        const key = bytesToHex(encodeKeyPackage(proposal.add.keyPackage));
        const left = wantAdds.get(key) ?? 0;
        if (left === 0) return refuse("adds a key package the delivery service did not ask for");
        wantAdds.set(key, left - 1);
        added.push(proposal.add.keyPackage);
      } else if (proposal.proposalType === "remove") {
        const leaf = proposal.remove.removed;
        if (!wantRemoves.has(leaf) || removed.has(leaf)) return refuse(`removes leaf ${leaf}, which the delivery service did not ask for`);
        removed.add(leaf);
      } else {
        return refuse(`includes a ${typeof proposal.proposalType === "string" ? proposal.proposalType : "custom"} proposal`);
      }
    }
    if ([...wantAdds.values()].some((n) => n !== 0)) return refuse("does not add every member the delivery service asked for");
    if (removed.size !== wantRemoves.size) return refuse("does not remove every member the delivery service asked for");

    // Apply the proposals to the public tree; ts-mls validates each added key package here.
    const cs = this.#cs;
    let result;
    try {
      result = await applyProposals(this.#asState(expect.committerLeaf), content.commit.proposals, toLeafIndex(expect.committerLeaf), emptyPskIndex, false, cs);
    } catch (e) {
      return refuse(`its proposals are invalid: ${reason(e)}`);
    }
    if (result.additionalResult.kind !== "memberCommit") return refuse("not a member commit");
    const path = content.commit.path;
    // RFC 9420 §12.4.2: Remove (and an empty commit) need an UpdatePath.
    if (result.needsUpdatePath && path === undefined) return refuse("has no UpdatePath but needs one");

    let tree = result.tree;
    if (path !== undefined) {
      const leaf = path.leafNode;
      const old = committer.leaf;
      // Conclave never rotates signature keys or changes credentials within a session.
      if (!constantTimeEqual(leaf.signaturePublicKey, old.signaturePublicKey)) return refuse("the UpdatePath changes the committer's signature key");
      if (!sameCredential(leaf.credential, old.credential)) return refuse("the UpdatePath changes the committer's credential");
      try {
        const invalid =
          (await validateLeafNodeUpdateOrCommit(leaf, expect.committerLeaf, this.#context, config.authService, cs.signature)) ??
          (await validateLeafNodeCredentialAndKeyUniqueness(result.tree, leaf, expect.committerLeaf));
        if (invalid !== undefined) return refuse(`its UpdatePath leaf is invalid: ${reason(invalid)}`);
        // Checks the path's length and that its parent hashes chain to the leaf (RFC 9420 §7.9.2).
        tree = await applyUpdatePath(result.tree, toLeafIndex(expect.committerLeaf), path, cs.hash);
      } catch (e) {
        if (e instanceof ProtocolError) throw e;
        return refuse(`its UpdatePath is invalid: ${reason(e)}`);
      }
      // One encrypted path secret per node of each copath resolution, joiners excluded
      // (RFC 9420 §12.4.1): a short or long list makes some members unable to decrypt.
      const joiners = new Set(result.additionalResult.addedLeafNodes.map(([leafIndex]) => leafToNodeIndex(leafIndex)));
      const fdp = filteredDirectPathAndCopathResolution(toLeafIndex(expect.committerLeaf), result.tree);
      for (const [i, { resolution }] of fdp.entries()) {
        const want = resolution.filter((n) => !joiners.has(n)).length;
        if (path.nodes[i]?.encryptedPathSecret.length !== want) return refuse("its UpdatePath does not encrypt a path secret to exactly the right members");
      }
    }

    // The Welcome: one EncryptedGroupSecrets per added key package, for nobody else.
    if (added.length === 0) {
      if (expect.welcome !== undefined) return refuse("carries a Welcome but adds nobody");
    } else {
      if (expect.welcome === undefined) return refuse("adds members but carries no Welcome");
      const w = decodeMlsMessageStrict(expect.welcome, "welcome");
      if (w.wireformat !== "mls_welcome") return refuse(`its Welcome is a ${w.wireformat}`);
      if (w.welcome.cipherSuite !== this.suite) return refuse("its Welcome uses another cipher suite");
      const refs = new Set<string>();
      for (const kp of added) refs.add(bytesToHex(await makeKeyPackageRef(kp, cs.hash)));
      const got = new Set(w.welcome.secrets.map((s) => bytesToHex(s.newMember)));
      if (w.welcome.secrets.length !== added.length || got.size !== refs.size || [...got].some((r) => !refs.has(r))) {
        return refuse("its Welcome is not addressed to exactly the added members");
      }
    }

    // The signature (RFC 9420 §6.1): over FramedContentTBS, which includes the GroupContext.
    const signatureKey = committer.leaf.signaturePublicKey;
    const candidates = [this.#context.confirmedTranscriptHash];
    for (const t of transcriptCandidates) {
      if (candidates.length > MAX_TRANSCRIPT_CANDIDATES) break;
      if (!candidates.some((c) => constantTimeEqual(c, t))) candidates.push(t);
    }
    let context: GroupContext | undefined;
    for (const c of candidates) {
      const ctx = { ...this.#context, confirmedTranscriptHash: c };
      if (await verifies(verifyFramedContentSignature(signatureKey, "mls_public_message", content, pm.auth, ctx, cs.signature))) {
        context = ctx;
        break;
      }
    }
    if (context === undefined) return refuse("its signature does not verify");

    // RFC 9420 §8.2: the next epoch's transcript hash from public data.
    const next = await nextEpochContext(context, "mls_public_message", content, pm.auth.signature, await treeHashRoot(tree, cs.hash), this.#confirmationTag, cs.hash);
    return new PublicGroup(CONSTRUCT, this.suite, cs, next, tree, pm.auth.confirmationTag);
  }

  /** The parts of a ClientState that applyProposals reads: the public ones, and no secrets. */
  #asState(committerLeaf: number): ClientState {
    return {
      groupContext: this.#context,
      ratchetTree: this.#tree,
      unappliedProposals: {},
      clientConfig: config,
      privatePath: { leafIndex: committerLeaf, privateKeys: {} },
    } as unknown as ClientState;
  }
}

/**
 * Checks an encoded MLSMessage(KeyPackage) as far as a server can: strict decoding, a suite of
 * ours, a Conclave identity, the leaf node's and the package's signatures, and distinct init and
 * encryption keys (RFC 9420 §10.1). Members check it again when they add it.
 */
export async function checkKeyPackage(bytes: Uint8Array): Promise<CheckedKeyPackage> {
  const kp = innerKeyPackage(bytes);
  const suite = kp.cipherSuite;
  if (!isMlsSuiteName(suite)) throw new ProtocolError("MLS_UNSUPPORTED_SUITE", `keyPackage: suite ${String(suite)}`);
  const identity = identityOf(kp.leafNode.credential);
  const cs = await suiteImpl(suite);
  if (kp.leafNode.leafNodeSource !== "key_package") throw new ProtocolError("MLS_BAD_MESSAGE", "keyPackage: its leaf node is not a key package leaf");
  if (!(await verifies(verifyLeafNodeSignatureKeyPackage(kp.leafNode, cs.signature))) || !(await verifies(verifyKeyPackage(kp, cs.signature)))) {
    throw new ProtocolError("MLS_BAD_MESSAGE", "keyPackage: the signature does not verify");
  }
  if (constantTimeEqual(kp.initKey, kp.leafNode.hpkePublicKey)) throw new ProtocolError("MLS_BAD_MESSAGE", "keyPackage: init key equals encryption key");
  return { suite, identity };
}

/**
 * A signature check that fails closed: WebCrypto throws (DataError) on a public key of the wrong
 * size instead of answering false; for a decoder of network input that is just "does not verify".
 */
async function verifies(check: Promise<boolean>): Promise<boolean> {
  try {
    return (await check) === true;
  } catch {
    return false;
  }
}

function innerKeyPackage(bytes: Uint8Array): KeyPackage {
  const msg = decodeMlsMessageStrict(bytes, "keyPackage");
  if (msg.wireformat !== "mls_key_package") throw new ProtocolError("MLS_BAD_MESSAGE", `keyPackage: got a ${msg.wireformat}`);
  return msg.keyPackage;
}

function identityOf(credential: Credential): MemberIdentity {
  if (credential.credentialType !== "basic") throw new ProtocolError("MLS_BAD_CREDENTIAL", "expected a basic credential");
  return decodeMemberIdentity(credential.identity);
}

function sameCredential(a: Credential, b: Credential): boolean {
  return a.credentialType === "basic" && b.credentialType === "basic" && constantTimeEqual(a.identity, b.identity);
}

/** Every credential the DS meets must be a Conclave identity; policy (kinds) is the registry's. */
const config: ClientConfig = {
  ...defaultClientConfig,
  authService: {
    async validateCredential(credential: Credential): Promise<boolean> {
      try {
        identityOf(credential);
        return true;
      } catch {
        return false;
      }
    },
  },
};
