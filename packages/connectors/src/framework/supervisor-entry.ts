/**
 * What the server imports from @conclave/connectors/supervisor: the supervisor, the IPC schemas
 * it speaks with connector services, and where the connector programs live. Nothing here holds
 * or sees media keys.
 */
import { fileURLToPath } from "node:url";

export { ConnectorSupervisor, SupervisedProcess, type ProcessSpec, type ResourceLimits } from "./supervisor.js";
export { serverToGatewaySchema, gatewayToServerSchema, parseIpc, type ServerToGateway, type GatewayToServer } from "./ipc.js";
export { CONNECTOR_ERRORS, ConnectorError, isConnectorError, type ConnectorErrorCode } from "../errors.js";

/** The SIP gateway program (a connector service the server supervises). */
export const SIP_GATEWAY_MODULE = fileURLToPath(new URL("../connectors/sip-room/gateway-main.js", import.meta.url));

/** The cloud recording connector program (one process per recording). */
export const RECORDING_CONNECTOR_MODULE = fileURLToPath(new URL("../connectors/recording/recorder-main.js", import.meta.url));
export { serverToRecorderSchema, recorderToServerSchema, type ServerToRecorder, type RecorderToServer } from "../connectors/recording/messages.js";

/** The live streaming connector program (one process per stream). */
export const STREAMING_CONNECTOR_MODULE = fileURLToPath(new URL("../connectors/streaming/streamer-main.js", import.meta.url));
export { serverToStreamerSchema, streamerToServerSchema, type ServerToStreamer, type StreamerToServer } from "../connectors/streaming/messages.js";
/** The live transcription connector program (one process per transcribed meeting). */
export const TRANSCRIPTION_CONNECTOR_MODULE = fileURLToPath(new URL("../connectors/transcription/transcriber-main.js", import.meta.url));
/** The built-in transcription engine (Debian pocketsphinx behind the engine process interface). */
export const POCKETSPHINX_ENGINE_MODULE = fileURLToPath(new URL("../connectors/transcription/pocketsphinx-engine.js", import.meta.url));
export { serverToTranscriberSchema, transcriberToServerSchema, type ServerToTranscriber, type TranscriberToServer } from "../connectors/transcription/messages.js";
