// Public surface of the media relay (the lead wires it into the package entry).

export { MediaRelay, type MediaRelayEvents, type RelayOptions } from "./relay.js";
export { RelayRoom, type RelayRoomEvents } from "./room.js";
export {
  RelayPeer,
  type ConnectionStateChange,
  type LocalCandidate,
  type RelayPeerEvents,
} from "./peer.js";
export {
  Publication,
  type MediaSource,
  type PublicationEvents,
  type PublicationInfo,
  type PublicationStats,
  type RelayTap,
  type TapPacket,
} from "./publication.js";
export { Subscription } from "./subscription.js";
export type { PublishTrackInfo } from "./publish-connection.js";
export type { SubscribeOffer, SubscribeTrackInfo } from "./subscribe-connection.js";
export type { PcName } from "./connection.js";
export type { RelayMediaKind } from "./sdp.js";
export { AUDIO_CODEC, VIDEO_CODEC } from "./sdp.js";
export { RELAY_ERRORS, RelayError, isRelayError, type RelayErrorCode } from "./errors.js";
