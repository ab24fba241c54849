// Node-only entry: back ends that need node:crypto. Browsers import "@conclave/protocol".
export { createNodeSFrameCrypto } from "./sframe/crypto-node.js";
