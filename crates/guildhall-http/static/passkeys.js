// Passkeys (WebAuthn) for the forms marked data-passkey="register" or
// "assert": fetches the server's options (base64url fields) from
// data-options, runs navigator.credentials, and submits the form with the
// sealed state and the credential as JSON. No inline script anywhere: the
// page's CSP allows only this file.
(function () {
  "use strict";
  const decode = (s) => {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  async function register(pk) {
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = decode(c.id); });
    const c = await navigator.credentials.create({ publicKey: pk });
    return {
      id: c.id, rawId: encode(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: {
        attestationObject: encode(c.response.attestationObject),
        clientDataJSON: encode(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : [],
      },
    };
  }

  async function assert(pk) {
    pk.challenge = decode(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = decode(c.id); });
    const c = await navigator.credentials.get({ publicKey: pk });
    return {
      id: c.id, rawId: encode(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
      response: {
        authenticatorData: encode(c.response.authenticatorData),
        clientDataJSON: encode(c.response.clientDataJSON),
        signature: encode(c.response.signature),
        userHandle: c.response.userHandle ? encode(c.response.userHandle) : null,
      },
    };
  }

  async function ceremony(form) {
    const say = form.querySelector("[data-passkey-status]");
    if (!window.PublicKeyCredential) {
      if (say) say.textContent = "This browser does not support passkeys.";
      return;
    }
    const body = new URLSearchParams({ csrf: form.elements.csrf.value });
    const res = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin" });
    if (!res.ok) {
      const why = {
        403: "For your safety, sign in again first, then add the passkey.",
        404: "No passkey is registered for this account.",
      };
      if (say) say.textContent = why[res.status] || "Passkeys are unavailable right now.";
      return;
    }
    const { options, state } = await res.json();
    const credential = form.dataset.passkey === "register" ? await register(options.publicKey) : await assert(options.publicKey);
    form.elements.state.value = state;
    form.elements.credential.value = JSON.stringify(credential);
    form.submit();
  }

  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      ceremony(form).catch(() => {
        const say = form.querySelector("[data-passkey-status]");
        if (say) say.textContent = "The passkey was not used. Try again.";
      });
    });
  });
})();
