// The sign-in form of both pages: government ID + registered mobile, then the one-time code by SMS.
import { $ } from "./dom.js";
import { requestCode, verifyCode } from "./session.js";

export function showSignIn(message) {
  $("signin").hidden = false;
  $("login-form").hidden = false;
  $("code-form").hidden = true;
  $("signin-error").textContent = message || "";
  $("government-id").focus();
}

function credentials() {
  return [$("government-id").value.trim(), $("mobile").value.trim()];
}

// Wire the forms once; ``onSignedIn(session)`` runs after a successful verification.
export function bindSignIn(onSignedIn) {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      await requestCode(...credentials());
      $("login-form").hidden = true;
      $("code-form").hidden = false;
      $("code").focus();
    } catch (error) {
      $("signin-error").textContent = error.message;
    }
  });
  $("code-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const session = await verifyCode(...credentials(), $("code").value.trim());
      $("code").value = "";
      $("signin").hidden = true;
      onSignedIn(session);
    } catch (error) {
      $("signin-error").textContent = error.message;
    }
  });
  $("restart").addEventListener("click", () => showSignIn(""));
}
