/**
 * Everything members do together besides media, end to end encrypted as MLS application messages:
 * chat (group and private, with files), reactions and raised hands, polls, breakout rooms, and
 * who records on their own device.
 * `Collaboration` wires all of them to one MeetingSession; apps may also use each one alone.
 */
import type { MeetingSession } from "../meeting-session.js";
import { MeetingChat, type FileTransport } from "./chat.js";
import { MeetingReactions } from "./reactions.js";
import { MeetingPolls } from "./polls.js";
import { MeetingBreakout } from "./breakout.js";
import { MeetingLocalRecordings } from "./local-recordings.js";
import { MeetingCaptions } from "./captions.js";

export { MeetingChat, type ChatEntry, type ChatFile, type FileTransport, type MeetingChatEvents, type MeetingChatOptions } from "./chat.js";
export { MeetingReactions, REACTIONS, type Reaction, type RaisedHand, type MeetingReactionsEvents } from "./reactions.js";
export { MeetingPolls, type PollView, type MeetingPollsEvents } from "./polls.js";
export { MeetingBreakout, type BreakoutRoomView, type BreakoutView, type MeetingBreakoutEvents, type MeetingBreakoutOptions } from "./breakout.js";
export { MeetingLocalRecordings, type LocalRecorder, type MeetingLocalRecordingsEvents } from "./local-recordings.js";
export { MeetingCaptions, MAX_CAPTION_TEXT, type Caption, type MeetingCaptionsEvents } from "./captions.js";
export { fetchFileTransport, FILE_TOKEN_HEADER } from "./files-transport.js";

export interface CollaborationOptions {
  files?: FileTransport;
  /** Follow breakout assignments automatically (default true). */
  autoMove?: boolean;
}

export class Collaboration {
  readonly chat: MeetingChat;
  readonly reactions: MeetingReactions;
  readonly polls: MeetingPolls;
  readonly breakout: MeetingBreakout;
  /** Who records the meeting on their own device (announced to everyone). */
  readonly localRecordings: MeetingLocalRecordings;
  readonly captions: MeetingCaptions;

  constructor(session: MeetingSession, opts: CollaborationOptions = {}) {
    this.chat = new MeetingChat(session, opts.files ? { files: opts.files } : {});
    this.reactions = new MeetingReactions(session);
    this.polls = new MeetingPolls(session);
    this.breakout = new MeetingBreakout(session, opts.autoMove !== undefined ? { autoMove: opts.autoMove } : {});
    this.localRecordings = new MeetingLocalRecordings(session);
    this.captions = new MeetingCaptions(session);
  }

  /** Stops listening and erases the keys the features hold (file keys, the breakout plan's). */
  close(): void {
    this.chat.close();
    this.reactions.close();
    this.polls.close();
    this.breakout.close();
    this.localRecordings.close();
    this.captions.close();
  }
}
