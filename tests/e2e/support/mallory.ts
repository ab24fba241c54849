/**
 * Mallory: a scripted malicious participant. She speaks the signaling protocol over a raw
 * WebSocket and runs MLS directly on ts-mls (not through MlsSession), so she holds her own group
 * state and keys and can build commits the honest client never would: removals nobody asked for,
 * corrupted tags and paths signed with her real key, false failure reports. Everything she sends
 * is bytes a real attacker with the meeting link could send.
 */
import { WebSocket } from "ws";
import { createGroup, joinGroup } from "ts-mls/clientState.js";
import { createCommit, createGroupInfoWithRatchetTree } from "ts-mls/createCommit.js";
import { processMessage } from "ts-mls/processMessages.js";
import { generateKeyPackage, type KeyPackage, type PrivateKeyPackage } from "ts-mls/keyPackage.js";
import { decodeMlsMessage, encodeMlsMessage, type MLSMessage } from "ts-mls/message.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { emptyPskIndex } from "ts-mls/pskIndex.js";
import { acceptAll } from "ts-mls/incomingMessageAction.js";
import { getCiphersuiteFromName } from "ts-mls/crypto/ciphersuite.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import { createContentCommitSignature, toTbs } from "ts-mls/framedContent.js";
import { createMembershipTag } from "ts-mls/authenticatedContent.js";
import type { ClientState } from "ts-mls/clientState.js";
import type { CiphersuiteImpl } from "ts-mls/crypto/ciphersuite.js";
import type { Proposal } from "ts-mls/proposal.js";
import { DEFAULT_MLS_SUITE, MEETING_POLICY_EXTENSION_TYPE, decodeMemberIdentity, encodeMeetingPolicy, encodeMemberIdentity, fromBase64, toBase64 } from "@conclave/protocol";
import type { ConnectorKind, MemberIdentity } from "@conclave/protocol";
import type { TestServer } from "./harness.js";

export interface CommitRequestMsg {
  epoch: string;
  add: { memberId: string; keyPackage: string }[];
  remove: string[];
}

/** What Mallory does when asked to commit. Default: commit honestly. */
export type CommitPlan =
  | { kind: "honest" }
  | { kind: "ignore" }
  /** Also remove these members (by memberId) in the MLS commit, but report `removed` as asked. */
  | { kind: "removeAlso"; memberIds: string[] }
  /** Flip the commit's last byte (its membership tag): framing and signature stay valid. */
  | { kind: "flipLastByte" }
  /** Corrupt an encrypted path secret, then sign again with her real key: only members can tell. */
  | { kind: "corruptPathResigned" }
  /** Also add these key packages (base64 MLSMessages) in the MLS commit, but report `added` as asked. */
  | { kind: "addAlso"; keyPackages: string[] };

type Json = Record<string, unknown> & { type: string };

export class Mallory {
  readonly memberId: string;
  readonly received: Json[] = [];
  readonly closed: Promise<{ code: number }>;
  /** Decides each commit; set by the test. */
  plan: (req: CommitRequestMsg) => CommitPlan = () => ({ kind: "honest" });
  state: ClientState | null = null;
  #pending: ClientState | null = null;
  #previous: ClientState | null = null;
  #kp: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage } | null = null;
  #queue: Promise<void> = Promise.resolve();
  #waiters: { match: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly cs: CiphersuiteImpl,
    readonly displayName: string,
  ) {
    this.memberId = `mallory${Math.random().toString(36).slice(2, 10)}`;
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as Json;
      this.received.push(msg);
      for (const w of [...this.#waiters]) {
        if (w.match(msg)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
      this.#queue = this.#queue.then(() => this.#handle(msg)).catch((e: unknown) => {
        this.errors.push(e instanceof Error ? e.message : String(e));
      });
    });
    ws.on("error", () => {});
    this.closed = new Promise((resolve) => ws.once("close", (code) => resolve({ code })));
  }

  readonly errors: string[] = [];

  static async connect(server: TestServer, displayName = "Mallory", localAddress?: string): Promise<Mallory> {
    const ws = new WebSocket(server.wsUrl, { ca: server.ca, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const cs = await getCiphersuiteImpl(getCiphersuiteFromName(DEFAULT_MLS_SUITE));
    return new Mallory(ws, cs, displayName);
  }

  send(msg: Json): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /**
   * Resolves with the first received message matching `match` (or one already received), among
   * those received from index `from` on (default: all).
   */
  next(match: (m: Json) => boolean, ms = 20_000, from = 0): Promise<Json> {
    const seen = this.received.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("Mallory: timed out waiting for a message")), ms);
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  async join(meeting: { id: string; passcode: string | null }): Promise<void> {
    this.#kp = await this.#newKeyPackage();
    this.send({
      type: "join",
      version: 1,
      meetingId: meeting.id,
      memberId: this.memberId,
      displayName: this.displayName,
      keyPackage: toBase64(encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package", keyPackage: this.#kp.publicPackage })),
      ...(meeting.passcode ? { passcode: meeting.passcode } : {}),
    });
  }

  /** A failure report for `epoch` with a fresh, valid key package (true or not). */
  async reportFailure(epoch: string): Promise<void> {
    const kp = await this.#newKeyPackage();
    this.send({
      type: "commitFailed",
      epoch,
      reason: "Could not verify confirmation tag",
      keyPackage: toBase64(encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package", keyPackage: kp.publicPackage })),
    });
    this.#kp = kp;
  }

  /** If true, she reports every commit she receives as failed (a hostile reporter). */
  lieAboutCommits = false;

  leave(): void {
    this.send({ type: "leave" });
    this.ws.close();
  }

  /**
   * A valid key package (base64 MLSMessage) with a `connector` credential that she made herself,
   * for a member nobody asked for: what she would smuggle into a group.
   */
  async connectorKeyPackage(connector: ConnectorKind, displayName: string): Promise<string> {
    const identity: MemberIdentity = { kind: "connector", memberId: `smuggled${Math.random().toString(36).slice(2, 10)}`, displayName, connector };
    const kp = await this.#newKeyPackage(identity);
    return toBase64(encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package", keyPackage: kp.publicPackage }));
  }

  async #newKeyPackage(identity: MemberIdentity = { kind: "person", memberId: this.memberId, displayName: this.displayName }) {
    const now = BigInt(Math.floor(Date.now() / 1000));
    // Capabilities as Conclave's own key packages list them: the meeting policy extension too.
    const capabilities = defaultCapabilities();
    capabilities.extensions = [...capabilities.extensions, MEETING_POLICY_EXTENSION_TYPE];
    return generateKeyPackage(
      { credentialType: "basic", identity: encodeMemberIdentity(identity) },
      capabilities,
      { notBefore: now - 3600n, notAfter: now + 86_400n },
      [],
      this.cs,
    );
  }

  async #handle(msg: Json): Promise<void> {
    const cs = this.cs;
    switch (msg.type) {
      case "createGroup": {
        const kp = this.#kp!;
        // A group as honest founders make it, bound to the meeting's encryption (the `joined` message's).
        const joined = this.received.find((m) => m.type === "joined");
        const encryption = joined?.encryption === "enhanced" ? "enhanced" : "e2ee";
        const policy = { extensionType: MEETING_POLICY_EXTENSION_TYPE, extensionData: encodeMeetingPolicy({ encryption }) };
        this.state = await createGroup(fromBase64(msg.groupId as string), kp.publicPackage, kp.privatePackage, [policy], cs);
        const s = this.state;
        const gi = await createGroupInfoWithRatchetTree(s.groupContext, s.confirmationTag, s, s.ratchetTree, [], cs);
        this.send({ type: "groupCreated", groupId: msg.groupId as string, groupInfo: toBase64(encodeMlsMessage({ version: "mls10", wireformat: "mls_group_info", groupInfo: gi })) });
        return;
      }
      case "welcome": {
        const kp = this.#kp!;
        const w = decode(msg.welcome as string);
        if (w.wireformat !== "mls_welcome") throw new Error("not a welcome");
        this.state = await joinGroup(w.welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, cs);
        this.send({ type: "welcomeProcessed", epoch: this.state.groupContext.epoch.toString(), transcriptHash: toBase64(this.state.groupContext.confirmedTranscriptHash) });
        return;
      }
      case "commit": {
        if (!this.state) return;
        if (this.lieAboutCommits) {
          await this.reportFailure(msg.epoch as string);
          return;
        }
        const m = decode(msg.commit as string);
        if (m.wireformat !== "mls_public_message") throw new Error("not a public message");
        const r = await processMessage(m, this.state, emptyPskIndex, acceptAll, cs);
        this.#previous = this.state;
        this.state = r.newState;
        this.send({ type: "commitAck", epoch: msg.epoch as string, transcriptHash: toBase64(this.state.groupContext.confirmedTranscriptHash) });
        return;
      }
      case "commitRequest":
        await this.#commit(msg as unknown as CommitRequestMsg);
        return;
      case "commitAccepted":
        if (this.#pending) {
          this.#previous = this.state;
          this.state = this.#pending;
          this.#pending = null;
        }
        return;
      case "commitRejected":
        this.#pending = null;
        return;
      case "rollback":
        if (this.#previous && this.state && this.state.groupContext.epoch === BigInt(msg.epoch as string) + 1n) this.state = this.#previous;
        return;
      default:
        return;
    }
  }

  async #commit(req: CommitRequestMsg): Promise<void> {
    const state = this.state;
    if (!state || BigInt(req.epoch) !== state.groupContext.epoch) return;
    const plan = this.plan(req);
    if (plan.kind === "ignore") return;
    const leafOf = (memberId: string): number => {
      for (let node = 0; node < state.ratchetTree.length; node += 2) {
        const n = state.ratchetTree[node];
        if (n?.nodeType !== "leaf" || n.leaf.credential.credentialType !== "basic") continue;
        if (decodeMemberIdentity(n.leaf.credential.identity).memberId === memberId) return node / 2;
      }
      throw new Error(`no leaf for ${memberId}`);
    };
    const proposals: Proposal[] = [];
    const removeIds = [...req.remove, ...(plan.kind === "removeAlso" ? plan.memberIds : [])];
    for (const id of removeIds) proposals.push({ proposalType: "remove", remove: { removed: leafOf(id) } });
    for (const b64 of [...req.add.map((a) => a.keyPackage), ...(plan.kind === "addAlso" ? plan.keyPackages : [])]) {
      const kp = decode(b64);
      if (kp.wireformat !== "mls_key_package") throw new Error("not a key package");
      proposals.push({ proposalType: "add", add: { keyPackage: kp.keyPackage } });
    }
    const result = await createCommit({ state, cipherSuite: this.cs }, { wireAsPublicMessage: true, extraProposals: proposals, ratchetTreeExtension: true });
    this.#pending = result.newState;
    let commit = encodeMlsMessage(result.commit);
    if (plan.kind === "flipLastByte") {
      commit = commit.slice();
      commit[commit.length - 1]! ^= 0x01;
    } else if (plan.kind === "corruptPathResigned") {
      commit = await this.#corruptPath(result.commit, state);
    }
    this.send({
      type: "commit",
      epoch: req.epoch,
      commit: toBase64(commit),
      ...(result.welcome ? { welcome: toBase64(encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: result.welcome })) } : {}),
      added: req.add.map((a) => a.memberId),
      removed: req.remove, // what the server asked, whatever the commit does
    });
  }

  /** One path ciphertext corrupted; signature and membership tag made anew with her real keys. */
  async #corruptPath(message: MLSMessage, state: ClientState): Promise<Uint8Array> {
    if (message.wireformat !== "mls_public_message" || message.publicMessage.content.contentType !== "commit") throw new Error("not a commit");
    const content = message.publicMessage.content;
    const path = content.commit.path;
    if (!path) throw new Error("the commit has no path to corrupt");
    const node = path.nodes.find((n) => n.encryptedPathSecret.length > 0);
    if (!node) throw new Error("no encrypted path secret");
    const ct = node.encryptedPathSecret[0]!.ciphertext.slice();
    ct[0]! ^= 0x01;
    node.encryptedPathSecret[0] = { ...node.encryptedPathSecret[0]!, ciphertext: ct };
    const { signature, framedContent } = await createContentCommitSignature(state.groupContext, "mls_public_message", content.commit, content.sender, content.authenticatedData, state.signaturePrivateKey, this.cs.signature);
    const auth = { contentType: "commit" as const, signature, confirmationTag: (message.publicMessage.auth as { confirmationTag: Uint8Array }).confirmationTag };
    const membershipTag = await createMembershipTag(state.keySchedule.membershipKey, { contentTbs: toTbs(framedContent, "mls_public_message", state.groupContext), auth }, this.cs.hash);
    return encodeMlsMessage({ version: "mls10", wireformat: "mls_public_message", publicMessage: { content: framedContent, auth, senderType: "member", membershipTag } });
  }
}

function decode(b64: string): MLSMessage {
  const r = decodeMlsMessage(fromBase64(b64), 0);
  if (!r) throw new Error("undecodable MLS message");
  return r[0];
}
