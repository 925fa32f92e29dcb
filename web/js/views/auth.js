// views/auth.js - the sign-in / register form.
import { h } from "../dom.js";
import * as api from "../api.js";

export function authView(root) {
  let mode = "login";
  const err = h("p.error", { role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true,
                            minLength: 3, maxLength: 32, pattern: "[a-z0-9_.]+",
                            placeholder: "username (a-z 0-9 _ .)" });
  const pass = h("input", { name: "password", type: "password", required: true, minLength: 8,
                            autocomplete: "current-password", placeholder: "password (8+ characters)" });
  const display = h("input", { name: "display_name", maxLength: 64, placeholder: "display name (optional)" });
  const submit = h("button.primary", { type: "submit", name: "submit" });
  const toggle = h("button.link", { type: "button", name: "toggle" });
  const form = h("form.auth", { onsubmit: go }, h("h1", "natter"), user, pass, display, submit, err, toggle);
  function render() {
    display.hidden = mode === "login";
    submit.textContent = mode === "login" ? "Sign in" : "Create account";
    toggle.textContent = mode === "login" ? "No account? Register" : "Have an account? Sign in";
    pass.autocomplete = mode === "login" ? "current-password" : "new-password";
  }
  toggle.addEventListener("click", () => { mode = mode === "login" ? "register" : "login"; err.textContent = ""; render(); });
  async function go(ev) {
    ev.preventDefault();
    err.textContent = "";
    submit.disabled = true;
    try {
      if (mode === "login") await api.login(user.value.trim(), pass.value);
      else await api.register(user.value.trim(), pass.value, display.value.trim() || undefined);
    } catch (e) {
      err.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  }
  render();
  root.replaceChildren(h("section.auth-page", form));
}
