// views/profile.js - my display name and bio (PUT /api/users/me; the
// server's limits: name 1-64 characters, bio up to 500).
import { h } from "../dom.js";
import * as store from "../store.js";
import * as client from "../client.js";
import * as manage from "../manage.js";

export function profileForm(el, close) {
  const me = store.state.me;
  const name = h("input", { name: "profile-name", value: me.display_name || "", maxLength: 64, required: true });
  const bio = h("textarea", { name: "profile-bio", rows: 3, maxLength: 500, placeholder: "About you" });
  bio.value = me.bio || "";
  el.replaceChildren(h("form.profile", { onsubmit: (ev) => {
    ev.preventDefault();
    manage.updateProfile({ display_name: name.value.trim(), bio: bio.value }).then(close, client.report);
  } }, h("label", "Display name", name), h("label", "Bio", bio),
    h("div.row", h("button.small.primary", { type: "submit", name: "profile-save" }, "Save"),
      h("button.small", { type: "button", onclick: close }, "Cancel"))));
}
