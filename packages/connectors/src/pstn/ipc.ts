/**
 * Messages between the SIP gateway and a phone call connector process (one per dial-in call),
 * validated with zod at each end like the framework's (framework/ipc.ts). The caller's number
 * never crosses: the gateway hands the call only the display name ("Phone ••• 1234").
 */
import { z } from "zod";
import { farLegSchema, streamSchema } from "../framework/ipc.js";
import { PROMPTS, type PromptId } from "./prompts.js";

const promptId = z.enum(Object.keys(PROMPTS) as [PromptId, ...PromptId[]]);

const text = (max: number) => z.string().max(max);
const digit = z.enum(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]);
const requestId = z.number().int().nonnegative();

export const gatewayToPhoneSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("shutdown") }),
  /** Bind the media ports (the answer names them). */
  z.strictObject({ type: z.literal("prepare"), address: text(64), portRange: z.strictObject({ min: z.number().int(), max: z.number().int() }).optional() }),
  /** The call is answered: run the IVR over this stream, then join as this member. */
  z.strictObject({
    type: z.literal("start"),
    audio: streamSchema,
    promptsDir: text(4096),
    displayName: text(64),
    farLeg: farLegSchema,
    signalingUrl: text(512),
    ca: text(20_000).optional(),
  }),
  /** A re-INVITE changed the media. */
  z.strictObject({ type: z.literal("reconfigure"), audio: streamSchema }),
  /** A key press that came as SIP INFO (the RFC 4733 ones arrive with the media). */
  z.strictObject({ type: z.literal("dtmf"), digit }),
  z.strictObject({
    type: z.literal("lookedUp"),
    requestId,
    result: z.discriminatedUnion("ok", [z.strictObject({ ok: z.literal(true), passcodeRequired: z.boolean() }), z.strictObject({ ok: z.literal(false), code: text(64) })]),
  }),
  z.strictObject({
    type: z.literal("authorized"),
    requestId,
    result: z.discriminatedUnion("ok", [
      z.strictObject({ ok: z.literal(true), ticket: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/), meetingId: z.string().regex(/^[0-9]{1,32}$/) }),
      z.strictObject({ ok: z.literal(false), code: text(64) }),
    ]),
  }),
  /** The phone hung up. */
  z.strictObject({ type: z.literal("hangup") }),
]);
export type GatewayToPhone = z.infer<typeof gatewayToPhoneSchema>;

export const phoneToGatewaySchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ports"), audio: z.number().int() }),
  z.strictObject({ type: z.literal("lookup"), requestId, meetingId: z.string().regex(/^[0-9]{1,20}$/) }),
  z.strictObject({ type: z.literal("authorize"), requestId, meetingId: z.string().regex(/^[0-9]{1,20}$/), passcode: z.string().regex(/^[0-9]{0,20}$/).optional() }),
  /** The IVR started or finished a prompt (for the operator's view of calls, and tests). */
  z.strictObject({ type: z.literal("prompt"), prompt: promptId, phase: z.enum(["start", "end"]) }),
  /** Admitted by the server and waiting for a host. */
  z.strictObject({ type: z.literal("waiting"), meetingId: z.string().regex(/^[0-9]{1,32}$/) }),
  z.strictObject({ type: z.literal("inGroup"), meetingId: z.string().regex(/^[0-9]{1,32}$/), memberId: z.string().max(64), securityCode: text(64) }),
  /** The call is over from the connector's side (refused, removed, meeting ended): hang up. */
  z.strictObject({ type: z.literal("ended"), code: text(64), detail: text(300), meetingId: z.string().regex(/^[0-9]{1,32}$/).optional() }),
]);
export type PhoneToGateway = z.infer<typeof phoneToGatewaySchema>;
