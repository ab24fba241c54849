/**
 * DTLS-SRTP (RFC 5763, RFC 5764) towards room systems that offer it: a DTLS handshake on the
 * media socket itself, the peer's certificate checked against the fingerprint in its SDP, and
 * the SRTP keys exported from the handshake (RFC 5764 §4.2). werift's DTLS (which browsers
 * interoperate with) does the protocol; this module feeds it the datagrams a media socket
 * demultiplexes to it (RFC 7983: first byte 20-63) and checks what it needs to.
 *
 * Only SRTP_AES128_CM_HMAC_SHA1_80 is offered, so the protection profile — part of the
 * connector's far-leg description, written before the handshake — is known in advance.
 * A fingerprint sent over plain SIP can be replaced by whoever is on the path, so DTLS-SRTP
 * counts as encrypted only with SIP over TLS (docs/protocol.md §4).
 */
import { createHash, X509Certificate } from "node:crypto";
import type { Socket } from "node:dgram";
import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm, type SignatureHash } from "werift";
import { ConnectorError } from "../errors.js";

/** RFC 5764 §4.1.2: SRTP_AES128_CM_HMAC_SHA1_80. */
export const DTLS_SRTP_PROFILE = 0x0001;
export const DTLS_SRTP_PROFILE_NAME = "SRTP_AES128_CM_HMAC_SHA1_80";

/** Our DTLS identity: a self-signed ECDSA P-256 certificate (per gateway process). */
export interface DtlsIdentity {
  certPem: string;
  keyPem: string;
  signatureHash: SignatureHash;
  /** "sha-256 AB:CD:..." for a=fingerprint. */
  fingerprint: string;
}

/** A fresh identity (werift's RTCDtlsTransport.SetupCertificate would share one per process). */
export async function createDtlsIdentity(): Promise<DtlsIdentity> {
  const { certPem, keyPem, signatureHash } = await CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  return { certPem, keyPem, signatureHash, fingerprint: `sha-256 ${fingerprintOf(certPem)}` };
}

/** SHA-256 of a certificate's DER, as colon-separated upper-case hex (RFC 8122 §5). */
export function fingerprintOf(certPemOrDer: string | Buffer): string {
  const der = typeof certPemOrDer === "string" ? new X509Certificate(certPemOrDer).raw : certPemOrDer;
  return createHash("sha256")
    .update(der)
    .digest("hex")
    .toUpperCase()
    .match(/.{2}/g)!
    .join(":");
}

export interface DtlsKeys {
  localKey: Buffer;
  localSalt: Buffer;
  remoteKey: Buffer;
  remoteSalt: Buffer;
}

/** RFC 7983 §7: DTLS records start with a byte in 20..63. */
export function isDtls(packet: Uint8Array): boolean {
  return packet.length > 0 && packet[0]! >= 20 && packet[0]! <= 63;
}

/**
 * One DTLS association on one media socket (RTP, or RTCP when not multiplexed). `feed` gets the
 * socket's DTLS datagrams; `keys` resolves after the handshake and the fingerprint check, or
 * rejects (SRTP_BAD_KEY) when the peer's certificate does not match its SDP.
 */
export class DtlsSrtpAssociation {
  readonly keys: Promise<DtlsKeys>;
  readonly #socket: DtlsServer | DtlsClient;
  readonly #transport: { type: string; address: { address: string; port: number; family: string }; closed: boolean; onData: (data: Buffer, addr?: unknown) => void; send: (data: Buffer) => Promise<void>; close: () => Promise<void> };
  #closed = false;

  constructor(opts: { socket: Socket; remote: { address: string; port: number }; role: "server" | "client"; identity: DtlsIdentity; remoteFingerprint: { algorithm: string; value: string } }) {
    const { socket, remote } = opts;
    this.#transport = {
      type: "udp",
      address: { address: remote.address, port: remote.port, family: "IPv4" },
      closed: false,
      onData: () => undefined,
      send: (data: Buffer) =>
        new Promise<void>((resolve) => {
          if (this.#closed) return resolve();
          socket.send(data, remote.port, remote.address, () => resolve());
        }),
      close: async () => undefined,
    };
    const common = {
      cert: opts.identity.certPem,
      key: opts.identity.keyPem,
      signatureHash: opts.identity.signatureHash,
      transport: this.#transport as never,
      srtpProfiles: [DTLS_SRTP_PROFILE] as never,
      extendedMasterSecret: true,
    };
    this.#socket = opts.role === "server" ? new DtlsServer({ ...common, certificateRequest: true }) : new DtlsClient(common);
    const algorithm = opts.remoteFingerprint.algorithm.toLowerCase();
    const expected = opts.remoteFingerprint.value.toUpperCase();
    this.keys = new Promise<DtlsKeys>((resolve, reject) => {
      this.#socket.onConnect.once(() => {
        const remoteCert = this.#socket.remoteCertificate;
        if (algorithm !== "sha-256" || !remoteCert || fingerprintOf(remoteCert) !== expected) {
          reject(new ConnectorError("SRTP_BAD_KEY", "the device's DTLS certificate does not match the fingerprint in its SDP"));
          this.close();
          return;
        }
        try {
          const k = this.#socket.extractSessionKeys(16, 14);
          resolve({ localKey: k.localKey, localSalt: k.localSalt, remoteKey: k.remoteKey, remoteSalt: k.remoteSalt });
        } catch {
          reject(new ConnectorError("SRTP_BAD_KEY", "no SRTP keys from the DTLS handshake"));
        }
      });
      this.#socket.onError.once(() => reject(new ConnectorError("SRTP_BAD_KEY", "the DTLS handshake failed")));
    });
    this.keys.catch(() => undefined);
    if (this.#socket instanceof DtlsClient) void this.#socket.connect().catch(() => undefined);
  }

  /** A DTLS datagram from the device. */
  feed(packet: Buffer): void {
    if (!this.#closed) this.#transport.onData(packet, undefined);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}
