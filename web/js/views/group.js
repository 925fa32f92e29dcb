// views/group.js - a group's settings under the chat header: rename (owner
// and admins), the members with their roles, remove (owner and admins, by
// docs/groups.md's rules; the server has the last word), roles and handing
// over (owner), add from my contacts, and leave (the owner hands the group
// over first: the server answers 409).
import { h } from "../dom.js";
import * as store from "../store.js";
import * as client from "../client.js";
import * as manage from "../manage.js";

const { state } = store;
const rank = { owner: 3, admin: 2, member: 1 };

export function groupPanel(el, c) {
  const mine = manage.myRole(c);
  const boss = mine === "owner" || mine === "admin";
  const name = h("input", { name: "rename", value: c.name || "", maxLength: 128, disabled: !boss });
  const rows = (c.members || []).map((m) => h("li.member", { dataset: { uid: m.user_id } },
    h("span", store.userName(m.user_id)), h("small.role", m.role === "member" ? "" : m.role),
    mine === "owner" && m.user_id !== state.me.id
      ? [h("button.small", { name: "set-role", onclick: () => run(() => manage.setRole(c.id, m.user_id, m.role === "admin" ? "member" : "admin")) },
           m.role === "admin" ? "Make member" : "Make admin"),
         h("button.small", { name: "hand-over", title: "Make them the owner (you become an admin)",
                             onclick: () => run(() => manage.handOver(c.id, m.user_id)) }, "Make owner")]
      : null,
    boss && m.user_id !== state.me.id && rank[mine] > rank[m.role]
      ? h("button.small", { name: "remove-member", onclick: () => run(() => manage.removeMember(c.id, m.user_id)) }, "Remove")
      : null));
  const inGroup = new Set((c.members || []).map((m) => m.user_id));
  const addable = state.contacts.filter((x) => !inGroup.has(x.user.id));
  const pick = h("select", { name: "add-member" },
    h("option", { value: "" }, addable.length ? "Add a contact…" : "No contacts to add"),
    addable.map((x) => h("option", { value: x.user.id }, x.user.display_name || x.user.username)));
  el.replaceChildren(
    boss ? h("form.rename", { onsubmit: (ev) => { ev.preventDefault(); run(() => manage.renameGroup(c.id, name.value.trim())); } },
      name, h("button.small", { type: "submit", name: "save-name" }, "Rename")) : null,
    h("ul.members", rows),
    boss ? h("div.add", pick, h("button.small", { name: "add", onclick: () => pick.value && run(() => manage.addMembers(c.id, [pick.value])) }, "Add")) : null,
    h("button.small.danger", { name: "leave", onclick: () => run(() => manage.leaveGroup(c.id)) }, "Leave group"));
}

function run(fn) { fn().catch(client.report); }
