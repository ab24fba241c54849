/**
 * Admin portal, Meetings: every meeting on the server, with its owner; admins can give one a new
 * passcode or delete it. (Editing stays with the owner, whose settings bound the meeting.)
 */
import { listUsers } from "../../api/accounts.js";
import { listMeetings } from "../../api/meetings.js";
import { UiError } from "../../errors.js";
import { errorBox } from "../common.js";
import { h, replaceChildren } from "../dom.js";
import { meetingList } from "../meetings-page.js";
import { adminTabs, pageHead } from "../shell.js";
import { t } from "../../i18n/i18n.js";

export async function renderAdminMeetingsPage(main: HTMLElement): Promise<void> {
  const head = pageHead(t("shell.admin"));
  replaceChildren(main, head, adminTabs("meetings"), h("p", { class: "muted" }, t("common.loading")));
  try {
    const [meetings, users] = await Promise.all([listMeetings(), listUsers()]);
    const owners = new Map(users.map((u) => [u.id, u.name]));
    replaceChildren(
      main,
      head,
      adminTabs("meetings"),
      h(
        "section",
        { class: "card", "aria-labelledby": "all-meetings-title" },
        h("h2", { id: "all-meetings-title" }, t("adminMeetings.title", { count: meetings.length })),
        meetingList(meetings, { effective: null, owners, onChanged: () => void renderAdminMeetingsPage(main) }),
      ),
    );
  } catch (e) {
    replaceChildren(main, head, adminTabs("meetings"), errorBox(e instanceof UiError ? e : new UiError("INTERNAL")));
  }
}
