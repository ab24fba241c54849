// Node-only entry: back ends that need node:crypto. Browsers import "@conclave/protocol".
import { useMlsCryptoBackend } from "./mls/crypto/backend.js";
import { nodeMlsBackend } from "./mls/crypto/backend-node.js";

export { createNodeSFrameCrypto } from "./sframe/crypto-node.js";
export { nodeMlsBackend };

// Importing this entry makes MLS suites use node:crypto's X25519 and AES-GCM (same bytes as
// WebCrypto, several times faster in Node). Every Node participant imports it (for SFrame).
useMlsCryptoBackend(nodeMlsBackend());
