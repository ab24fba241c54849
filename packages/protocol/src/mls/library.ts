/**
 * The one module that imports ts-mls (pinned to exactly 1.6.4).
 *
 * It imports from the package's per-module subpaths (`ts-mls/<module>.js`, allowed by its
 * `exports` map) and never from the root entry: in 1.6.4 the root `index.js` statically imports
 * the noble crypto provider, which needs `@noble/hashes`, a package ts-mls lists only as a dev
 * dependency. Importing the root therefore fails with ERR_MODULE_NOT_FOUND unless the app
 * installs `@noble/hashes` itself. The modules below use only the default (WebCrypto +
 * `@hpke/core`) provider, which ts-mls does depend on.
 *
 * Keeping the library behind this file also makes an upgrade (2.x renames much of this) a
 * one-file change.
 *
 * The copy in node_modules carries the versioned patches of patches/ (applied by `npm ci`):
 * the tree-validation fix and the linear-time tree hashing Conclave relies on.
 * `isPatchedLibrary()` tells whether they are there.
 */
import * as parentHashModule from "ts-mls/parentHash.js";
import * as treeHashModule from "ts-mls/treeHash.js";

/** Whether node_modules/ts-mls carries patches/ (checked through exports the patches add). */
export function isPatchedLibrary(): boolean {
  return "treeHashWithoutLeaves" in parentHashModule && "leafHash" in treeHashModule;
}

export {
  createGroup,
  joinGroup,
  type ClientState,
} from "ts-mls/clientState.js";
export { createCommit } from "ts-mls/createCommit.js";
export { processMessage } from "ts-mls/processMessages.js";
export { unprotectPublicMessage } from "ts-mls/messageProtectionPublic.js";
export { bytesToBase64 } from "ts-mls/util/byteArray.js";
export { createApplicationMessage } from "ts-mls/createMessage.js";
export { decryptSenderData } from "ts-mls/privateMessage.js";
export { encryptWithLabel, decryptWithLabel } from "ts-mls/crypto/hpke.js";
export { signWithLabel, verifyWithLabel } from "ts-mls/crypto/signature.js";
export { defaultKeyRetentionConfig } from "ts-mls/keyRetentionConfig.js";
export {
  generateKeyPackage,
  type KeyPackage,
  type PrivateKeyPackage,
} from "ts-mls/keyPackage.js";
export {
  decodeMlsMessage,
  encodeMlsMessage,
  type MLSMessage,
} from "ts-mls/message.js";
export { encodeRatchetTree, decodeRatchetTree, type RatchetTree } from "ts-mls/ratchetTree.js";
export { decodeGroupContext } from "ts-mls/groupContext.js";
export { initializeEpoch, mlsExporter } from "ts-mls/keySchedule.js";
export { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
export { defaultClientConfig } from "ts-mls/clientConfig.js";
export { emptyPskIndex } from "ts-mls/pskIndex.js";
export { MlsError, DependencyError, CryptoError } from "ts-mls/mlsError.js";
export {
  getCiphersuiteFromName,
  getCiphersuiteNameFromId,
  type CiphersuiteImpl,
  type CiphersuiteName,
} from "ts-mls/crypto/ciphersuite.js";
export { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
export type { Hpke, PublicKey, PrivateKey } from "ts-mls/crypto/hpke.js";
export type { Hash } from "ts-mls/crypto/hash.js";
export type { Kdf } from "ts-mls/crypto/kdf.js";
export type { Credential } from "ts-mls/credential.js";
export type { Extension } from "ts-mls/extension.js";
export type { ClientConfig } from "ts-mls/clientConfig.js";
export type { IncomingMessageCallback } from "ts-mls/incomingMessageAction.js";
export type { Proposal } from "ts-mls/proposal.js";
export type { PublicMessage } from "ts-mls/publicMessage.js";
export type { PrivateMessage } from "ts-mls/privateMessage.js";
export type { LeafNode } from "ts-mls/leafNode.js";
export type { Sender } from "ts-mls/sender.js";

// The public half of group state, for the delivery service (public-group.ts): applying a commit's
// proposals and UpdatePath to the public ratchet tree, transcript hashes, and the signature checks
// that need no group secret.
export {
  applyProposals,
  nextEpochContext,
  validateRatchetTree,
  validateLeafNodeUpdateOrCommit,
  validateLeafNodeCredentialAndKeyUniqueness,
} from "ts-mls/clientState.js";
export { applyUpdatePath } from "ts-mls/updatePath.js";
export { filteredDirectPathAndCopathResolution } from "ts-mls/ratchetTree.js";
export { treeHashRoot } from "ts-mls/treeHash.js";
export { verifyFramedContentSignature } from "ts-mls/framedContent.js";
export { verifyGroupInfoSignature, ratchetTreeFromExtension, type GroupInfo } from "ts-mls/groupInfo.js";
export { createGroupInfoWithRatchetTree } from "ts-mls/createCommit.js";
export { verifyKeyPackage, makeKeyPackageRef, encodeKeyPackage } from "ts-mls/keyPackage.js";
export { verifyLeafNodeSignatureKeyPackage } from "ts-mls/leafNode.js";
export { leafToNodeIndex, toLeafIndex } from "ts-mls/treemath.js";
export type { GroupContext } from "ts-mls/groupContext.js";
export type { Welcome } from "ts-mls/welcome.js";
