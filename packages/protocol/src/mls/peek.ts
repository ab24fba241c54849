/**
 * Reading MLS messages without any group secret: what the delivery service (DS) uses.
 *
 * The DS orders handshake messages per epoch ("first commit for an epoch wins") and shows the
 * member list, yet never holds a group secret. Both PublicMessage and PrivateMessage framing keep
 * group_id, epoch and content_type in clear (RFC 9420 §6.2, §6.3), which is all ordering needs.
 * Commits in Conclave are PublicMessages (see session.ts), so the DS can also read who sent a
 * commit and what it adds and removes.
 *
 * Everything returned here is UNAUTHENTICATED: the DS has no membership key, so a PublicMessage's
 * membership tag cannot be checked here, and nothing is verified against the group's tree. Members
 * verify everything when they process the message; the DS may use these fields to route and
 * order, and to display, but must treat them as claims.
 */
import { decodeMlsMessageStrict } from "./wire.js";
import { decodeMemberIdentity, type MemberIdentity } from "./identity.js";
import { isMlsSuiteName, type MlsSuiteName } from "./suites.js";
import type { LeafNode, Sender } from "./library.js";
import { ProtocolError } from "../errors.js";

export type MlsContentType = "application" | "proposal" | "commit";

/** RFC 9420 §6: Sender. */
export type MlsSender =
  | { type: "member"; leafIndex: number }
  | { type: "external"; senderIndex: number }
  | { type: "new_member_proposal" }
  | { type: "new_member_commit" };

/** What a PublicMessage commit visibly does (unauthenticated; see the module comment). */
export interface PeekedCommit {
  /** Whether the commit carries an UpdatePath (RFC 9420 §12.4.1). */
  hasUpdatePath: boolean;
  /** Leaf indices removed by proposals carried by value. */
  removed: number[];
  /** Identities added by proposals carried by value. */
  added: MemberIdentity[];
  /** Proposals included by reference (their content was sent earlier, as proposals). */
  proposalRefs: number;
}

export type PeekedMessage =
  | {
      wireFormat: "public";
      groupId: Uint8Array;
      epoch: bigint;
      contentType: "proposal" | "commit";
      sender: MlsSender;
      /** Present when contentType is "commit". */
      commit?: PeekedCommit;
    }
  | {
      wireFormat: "private";
      groupId: Uint8Array;
      epoch: bigint;
      contentType: MlsContentType;
    };

export interface PeekedKeyPackage {
  suite: MlsSuiteName;
  identity: MemberIdentity;
}

/**
 * Reads the clear header of an encoded PublicMessage or PrivateMessage. Throws MLS_BAD_MESSAGE for
 * anything else (Welcome, KeyPackage, GroupInfo, garbage, trailing bytes), and for application
 * data sent as a PublicMessage, which RFC 9420 §6.2 forbids.
 */
export function peekMessage(bytes: Uint8Array): PeekedMessage {
  const msg = decodeMlsMessageStrict(bytes, "message");
  switch (msg.wireformat) {
    case "mls_public_message": {
      const { content } = msg.publicMessage;
      if (content.contentType === "application") {
        throw new ProtocolError("MLS_BAD_MESSAGE", "application data must not be sent as a PublicMessage (RFC 9420 §6.2)");
      }
      const base = {
        wireFormat: "public" as const,
        groupId: content.groupId,
        epoch: content.epoch,
        sender: toSender(content.sender),
      };
      if (content.contentType === "proposal") return { ...base, contentType: "proposal" };
      const removed: number[] = [];
      const added: MemberIdentity[] = [];
      let proposalRefs = 0;
      for (const p of content.commit.proposals) {
        if (p.proposalOrRefType === "reference") {
          proposalRefs++;
        } else if (p.proposal.proposalType === "remove") {
          removed.push(p.proposal.remove.removed);
        } else if (p.proposal.proposalType === "add") {
          added.push(identityOfLeaf(p.proposal.add.keyPackage.leafNode));
        }
      }
      return {
        ...base,
        contentType: "commit",
        commit: { hasUpdatePath: content.commit.path !== undefined, removed, added, proposalRefs },
      };
    }
    case "mls_private_message": {
      const pm = msg.privateMessage;
      return { wireFormat: "private", groupId: pm.groupId, epoch: pm.epoch, contentType: pm.contentType };
    }
    default:
      throw new ProtocolError("MLS_BAD_MESSAGE", `message: a ${msg.wireformat} is not a group message`);
  }
}

/**
 * Reads the suite and member identity of an encoded MLSMessage(KeyPackage), without secrets and
 * without checking its signature (members check it when they add it).
 */
export function peekKeyPackage(bytes: Uint8Array): PeekedKeyPackage {
  const msg = decodeMlsMessageStrict(bytes, "keyPackage");
  if (msg.wireformat !== "mls_key_package") {
    throw new ProtocolError("MLS_BAD_MESSAGE", `keyPackage: got a ${msg.wireformat}`);
  }
  const suite = msg.keyPackage.cipherSuite;
  if (!isMlsSuiteName(suite)) throw new ProtocolError("MLS_UNSUPPORTED_SUITE", `keyPackage: suite ${String(suite)}`);
  return { suite, identity: identityOfLeaf(msg.keyPackage.leafNode) };
}

/** The Conclave identity in a leaf's basic credential; MLS_BAD_CREDENTIAL if there is none. */
export function identityOfLeaf(leaf: LeafNode): MemberIdentity {
  if (leaf.credential.credentialType !== "basic") {
    throw new ProtocolError("MLS_BAD_CREDENTIAL", "expected a basic credential");
  }
  return decodeMemberIdentity(leaf.credential.identity);
}

export function toSender(s: Sender): MlsSender {
  switch (s.senderType) {
    case "member":
      return { type: "member", leafIndex: s.leafIndex };
    case "external":
      return { type: "external", senderIndex: s.senderIndex };
    case "new_member_proposal":
      return { type: "new_member_proposal" };
    case "new_member_commit":
      return { type: "new_member_commit" };
  }
}
