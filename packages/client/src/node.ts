// Node-only entry: signaling over `ws` and the Node WebRTC media transport.
export { connectNodeSignaling, normaliseFingerprint, type NodeSignalingOptions } from "./node-signaling.js";
