/** @conclave/connectors: the public surface. */
export { CONNECTOR_ERRORS, ConnectorError, isConnectorError, type ConnectorErrorCode } from "./errors.js";
export * from "./sip/index.js";
