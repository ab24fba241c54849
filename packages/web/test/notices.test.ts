// The hosts' notices (a room system or a phone calling, joining, refused, hanging up) arrive as a
// code and the server's English sentence; the web app says them in the reader's language.
import { test } from "node:test";
import assert from "node:assert/strict";
import { noticeText } from "../src/meeting/notices.js";
import { setLocale } from "../src/i18n/i18n.js";

// The server's sentences (packages/server/src/connectors/sip-service.ts), with their codes.
const name = "Board room: 4 (east)";
const SERVER: [code: string, message: string, french: string][] = [
  ["ROOM_SYSTEM_RINGING", `Calling ${name}…`, `Appel de ${name}…`],
  ["ROOM_SYSTEM_JOINED", `${name} joined by SIP (TLS + SRTP).`, `${name} a rejoint la réunion par SIP (TLS + SRTP).`],
  ["ROOM_SYSTEM_REFUSED", `${name} could not join by SIP: 486 Busy Here`, `${name} n'a pas pu rejoindre la réunion par SIP : 486 Busy Here`],
  [
    "ROOM_SYSTEM_REFUSED",
    `${name} tried to join by SIP and was refused: end-to-end encrypted meetings admit no room systems or other connectors.`,
    `${name} a tenté de rejoindre la réunion par SIP et a été refusé : les réunions chiffrées de bout en bout n'admettent ni système de salle ni aucun autre connecteur.`,
  ],
  ["ROOM_SYSTEM_FAILED", `The call to ${name} failed: no answer`, `L'appel vers ${name} a échoué : no answer`],
  ["ROOM_SYSTEM_ENDED", `${name} hung up.`, `${name} a raccroché.`],
  ["PHONE_RINGING", "+1 555 0100 is waiting to be let in.", "+1 555 0100 attend d'être admis."],
  ["PHONE_JOINED", "+1 555 0100 joined by phone (unencrypted).", "+1 555 0100 a rejoint la réunion par téléphone (non chiffré)."],
  ["PHONE_REFUSED", "+1 555 0100 could not join by phone: wrong passcode", "+1 555 0100 n'a pas pu rejoindre la réunion par téléphone : wrong passcode"],
  [
    "PHONE_REFUSED",
    "A phone tried to dial in and was refused: end-to-end encrypted meetings admit no phones or other connectors.",
    "Un téléphone a tenté d'appeler et a été refusé : les réunions chiffrées de bout en bout n'admettent ni téléphone ni aucun autre connecteur.",
  ],
  ["PHONE_FAILED", "The phone call from +1 555 0100 failed: trunk unreachable", "L'appel téléphonique de +1 555 0100 a échoué : trunk unreachable"],
  ["PHONE_ENDED", "+1 555 0100 hung up.", "+1 555 0100 a raccroché."],
];

test("in English a host's notice reads as the server wrote it", () => {
  setLocale("en");
  for (const [code, message] of SERVER) assert.equal(noticeText(code, message), message, code);
});

test("in French a host's notice is French, with the caller's name and the server's detail", () => {
  setLocale("fr");
  try {
    for (const [code, message, french] of SERVER) assert.equal(noticeText(code, message), french, code);
  } finally {
    setLocale("en");
  }
});

test("a notice this app does not know, or in other words, is shown as the server sent it", () => {
  setLocale("fr");
  try {
    assert.equal(noticeText("SOMETHING_NEW", "Something new happened."), "Something new happened.");
    assert.equal(noticeText("ROOM_SYSTEM_JOINED", "Room 4 is in."), "Room 4 is in.");
  } finally {
    setLocale("en");
  }
});

test("a refused room-system invitation is said with the error catalogue", () => {
  setLocale("fr");
  try {
    assert.match(noticeText("CONNECTOR_NOT_ALLOWED", "end-to-end encrypted meetings admit no connectors"), /^Non autorisé dans une réunion chiffrée de bout en bout/);
    assert.match(noticeText("SIP_DISABLED", "This server does not run the SIP connector; start it with --sip-listen."), /connecteur SIP/);
    assert.match(noticeText("BAD_REQUEST", "uri: expected sip: or sips:"), /\(uri: expected sip: or sips:\)$/, "the server's detail names the field");
  } finally {
    setLocale("en");
  }
});
