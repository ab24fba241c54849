export * from "./errors.js";
export * from "./bytes.js";
export * from "./security-code.js";
export * from "./codec-framing.js";
export * from "./media-keys/kid.js";
export * from "./signaling/messages.js";
export * from "./mls/index.js";
