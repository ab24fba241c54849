/**
 * This device's camera, microphone and screen: capture, device choice, mute and camera off.
 * Muting sets track.enabled = false, so the sender keeps sending (silence, black frames), still
 * encrypted; the relay and the other members see the same stream shape either way.
 */
import { uiErrorFromMediaError, type UiError } from "../errors.js";

export interface DeviceLists {
  cameras: MediaDeviceInfo[];
  microphones: MediaDeviceInfo[];
  /** Audio outputs (speakers, headsets), where the browser lists them. */
  speakers: MediaDeviceInfo[];
}

export class LocalMedia {
  /** Holds the current microphone and camera tracks (the preview shows it). */
  readonly stream = new MediaStream();
  #mic: MediaStreamTrack | null = null;
  #cam: MediaStreamTrack | null = null;
  #screen: MediaStreamTrack | null = null;
  #micOn = true;
  #camOn = true;
  cameraId: string | null = null;
  microphoneId: string | null = null;
  /** The last capture failure, if any (camera denied, no device, device busy). */
  error: UiError | null = null;
  onChange: (() => void) | null = null;

  get microphone(): MediaStreamTrack | null {
    return this.#mic;
  }
  get camera(): MediaStreamTrack | null {
    return this.#cam;
  }
  get screen(): MediaStreamTrack | null {
    return this.#screen;
  }
  get micOn(): boolean {
    return this.#micOn && this.#mic !== null;
  }
  get camOn(): boolean {
    return this.#camOn && this.#cam !== null;
  }

  /** Opens the chosen (or default) camera and microphone. Resolves false on failure (see `error`). */
  async open(): Promise<boolean> {
    this.error = null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: this.microphoneId ? { deviceId: { exact: this.microphoneId } } : true,
        video: this.cameraId
          ? { deviceId: { exact: this.cameraId }, width: { ideal: 640 }, height: { ideal: 480 } }
          : { width: { ideal: 640 }, height: { ideal: 480 } },
      });
      this.#setTrack("audio", stream.getAudioTracks()[0] ?? null);
      this.#setTrack("video", stream.getVideoTracks()[0] ?? null);
      return true;
    } catch (e) {
      this.error = uiErrorFromMediaError(e);
      return false;
    } finally {
      this.onChange?.();
    }
  }

  /** Switches to another camera or microphone; resolves with the new track (or null on failure). */
  async useDevice(kind: "audio" | "video", deviceId: string): Promise<MediaStreamTrack | null> {
    if (kind === "audio") this.microphoneId = deviceId;
    else this.cameraId = deviceId;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        kind === "audio" ? { audio: { deviceId: { exact: deviceId } } } : { video: { deviceId: { exact: deviceId }, width: { ideal: 640 }, height: { ideal: 480 } } },
      );
      const track = (kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks())[0] ?? null;
      this.#setTrack(kind, track);
      this.error = null;
      return track;
    } catch (e) {
      this.error = uiErrorFromMediaError(e);
      return null;
    } finally {
      this.onChange?.();
    }
  }

  async devices(): Promise<DeviceLists> {
    try {
      const all = await navigator.mediaDevices.enumerateDevices();
      return {
        cameras: all.filter((d) => d.kind === "videoinput" && d.deviceId !== ""),
        microphones: all.filter((d) => d.kind === "audioinput" && d.deviceId !== ""),
        speakers: all.filter((d) => d.kind === "audiooutput" && d.deviceId !== ""),
      };
    } catch {
      return { cameras: [], microphones: [], speakers: [] };
    }
  }

  setMicOn(on: boolean): void {
    this.#micOn = on;
    if (this.#mic) this.#mic.enabled = on;
    this.onChange?.();
  }

  setCamOn(on: boolean): void {
    this.#camOn = on;
    if (this.#cam) this.#cam.enabled = on;
    this.onChange?.();
  }

  /** Asks the user for a screen, window or tab. Resolves null if they cancel. */
  async startScreen(): Promise<MediaStreamTrack | null> {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
      const track = stream.getVideoTracks()[0] ?? null;
      if (track) {
        track.contentHint = "detail";
        this.#screen = track;
      }
      return track;
    } catch {
      return null;
    } finally {
      this.onChange?.();
    }
  }

  stopScreen(): void {
    this.#screen?.stop();
    this.#screen = null;
    this.onChange?.();
  }

  /** Stops every capture (leaving the meeting or the page). */
  stop(): void {
    for (const t of [this.#mic, this.#cam, this.#screen]) t?.stop();
    for (const t of this.stream.getTracks()) this.stream.removeTrack(t);
    this.#mic = this.#cam = this.#screen = null;
  }

  #setTrack(kind: "audio" | "video", track: MediaStreamTrack | null): void {
    const old = kind === "audio" ? this.#mic : this.#cam;
    if (old) {
      old.stop();
      this.stream.removeTrack(old);
    }
    if (track) {
      track.enabled = kind === "audio" ? this.#micOn : this.#camOn;
      this.stream.addTrack(track);
    }
    if (kind === "audio") this.#mic = track;
    else this.#cam = track;
  }
}
