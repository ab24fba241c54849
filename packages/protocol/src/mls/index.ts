/** MLS (RFC 9420) group sessions for Conclave: the public surface of packages/protocol/src/mls. */
export {
  CONNECTOR_KINDS,
  MEMBER_IDENTITY_VERSION,
  MEMBER_IDENTITY_VERSION_FAR_LEG,
  FAR_LEG_SIGNALING,
  FAR_LEG_MEDIA,
  checkFarLeg,
  farLegEncrypted,
  farLegProtection,
  describeFarLeg,
  type FarLeg,
  type FarLegSignaling,
  type FarLegMedia,
  MAX_MEMBER_ID_BYTES,
  MAX_DISPLAY_NAME_BYTES,
  encodeMemberIdentity,
  decodeMemberIdentity,
  type ConnectorKind,
  type MemberIdentity,
} from "./identity.js";
export {
  MEETING_POLICY_EXTENSION_TYPE,
  encodeMeetingPolicy,
  decodeMeetingPolicy,
  admitsMember,
  type MeetingEncryption,
  type MeetingPolicyExtension,
} from "./meeting-policy.js";
export { MLS_SUITES, DEFAULT_MLS_SUITE, isMlsSuiteName, type MlsSuiteName } from "./suites.js";
export {
  createKeyPackage,
  MlsKeyPackageSecret,
  type CreateKeyPackageOptions,
  type CreatedKeyPackage,
} from "./keyPackage.js";
export {
  peekMessage,
  peekKeyPackage,
  type PeekedMessage,
  type PeekedCommit,
  type PeekedKeyPackage,
  type MlsSender,
  type MlsContentType,
} from "./peek.js";
export {
  MlsSession,
  type MemberPolicy,
  type MlsSessionOptions,
  type MlsJoinOptions,
  type MlsCommitRequest,
  type MlsCommitOutput,
  type MlsMember,
  type MlsProcessResult,
  type MlsSealed,
  SEALED_LABEL,
} from "./session.js";
export { MAX_MLS_MESSAGE_BYTES } from "./wire.js";
export {
  PublicGroup,
  checkKeyPackage,
  MAX_TRANSCRIPT_CANDIDATES,
  type CommitExpectation,
  type PublicMember,
  type CheckedKeyPackage,
} from "./public-group.js";
