// Node-only entry: back ends that need node:crypto. Browsers import "@conclave/protocol".
export {};
