export * from "./errors.js";
export * from "./bytes.js";
export * from "./security-code.js";
export * from "./codec-framing.js";
export * from "./media-keys/kid.js";
export * from "./signaling/messages.js";
export * from "./app-messages/app-message.js";
export * from "./app-messages/breakout-broadcast.js";
export * from "./files/file-crypto.js";

// SFrame (RFC 9605), isomorphic: runs on WebCrypto. The node:crypto back end is in "./node".
export {
  SFRAME_CIPHER_SUITES,
  SFrameCipherSuiteId,
  getSFrameCipherSuite,
  type SFrameAeadKind,
  type SFrameCipherSuite,
  type SFrameHash,
} from "./sframe/suites.js";
export {
  SFRAME_MAX_HEADER_LENGTH,
  SFRAME_MAX_VALUE,
  decodeSFrameHeader,
  encodeSFrameHeader,
  sframeHeaderLength,
  type DecodedSFrameHeader,
  type SFrameHeader,
} from "./sframe/header.js";
export type { SFrameAead, SFrameCrypto } from "./sframe/crypto.js";
export { createWebCryptoSFrameCrypto } from "./sframe/crypto-webcrypto.js";
export { SFrameEncryptor, type SFrameEncryptorOptions } from "./sframe/encryptor.js";
export {
  ParsedSFrame,
  SFrameDecryptor,
  parseSFrame,
  type SFrameDecryptResult,
  type SFrameDecryptorOptions,
  type SFrameKeyOptions,
} from "./sframe/decryptor.js";
export { DEFAULT_REPLAY_WINDOW_SIZE } from "./sframe/replay-window.js";
export * from "./media-keys/key-ring.js";
export * from "./mls/index.js";
export * from "./shield.js";
