/**
 * Test support for other packages' tests (the server's and the end-to-end suite): a SoftHSM
 * token directory and a PyKMIP server with its own PKI, made by the test. Exported as
 * `@conclave/kms/testing`; not part of the library.
 */
export { createSoftHsm, requireSoftHsm, type SoftHsm } from "./softhsm.js";
export { startPyKmip, makePki, requirePyKmip, type PyKmip, type Pki } from "./pykmip.js";
