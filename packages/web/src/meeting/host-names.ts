/**
 * Names hosts gave phones and room systems. A phone's credential names it by the caller's last
 * digits ("Phone ••• 1234") and a room system's by what the device announced; a host or co-host
 * may rename either (`renameMember`), and the server sends the new name to everyone as presence.
 * Only those two kinds take a name from presence: a person's name is the one in their MLS
 * credential, which the members check themselves, so a server cannot rename people.
 */
import type { MemberIdentity, MemberInfo } from "@conclave/protocol";

/** Whether a host may rename this member. */
export function renamable(m: MemberIdentity): boolean {
  return m.kind === "connector" && (m.connector === "pstn" || m.connector === "sip");
}

/** The group's members with the names hosts gave their phones and room systems. */
export function withHostNames(members: MemberIdentity[], presence: readonly MemberInfo[]): MemberIdentity[] {
  const names = new Map(presence.map((p) => [p.memberId, p.displayName]));
  return members.map((m) => {
    const name = names.get(m.memberId);
    return renamable(m) && name !== undefined && name !== m.displayName ? { ...m, displayName: name } : m;
  });
}
