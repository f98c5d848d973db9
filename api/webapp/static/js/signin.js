// Sign in and sign up (OAuth2 password flow; POST /auth/signup then sign in).
import { signIn, signUp } from "./api.js";
import { h, field, form, heading } from "./dom.js";
import { t } from "./i18n.js";

export function renderSignIn(main) {
  main.append(
    heading("signin_title"),
    form("signin_title", [
      field("email", "email", { type: "email", autocomplete: "username", required: true }),
      field("password", "password", { type: "password", autocomplete: "current-password", required: true }),
    ], "sign_in", async (f) => {
      await signIn(f.email.value, f.password.value);
      location.hash = "#/wearers";
    }),
    h("p", {}, h("a", { href: "#/signup", text: t("no_account_sign_up") })),
  );
}

export function renderSignUp(main) {
  main.append(
    heading("signup_title"),
    form("signup_title", [
      field("display_name", "display_name", { autocomplete: "name" }),
      field("email", "email", { type: "email", autocomplete: "email", required: true }),
      field("password", "password_new", { type: "password", autocomplete: "new-password", required: true, minlength: 10 }),
    ], "sign_up", async (f) => {
      await signUp(f.email.value, f.password.value, f.display_name.value);
      location.hash = "#/wearers";
    }),
    h("p", { class: "note", text: t("signup_verify_note") }),
    h("p", {}, h("a", { href: "#/signin", text: t("have_account_sign_in") })),
  );
}
