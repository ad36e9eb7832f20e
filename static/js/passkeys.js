/* Passkeys (portal/mfa): registering one on "Add a passkey", signing in with one on the
 * sign-in's second step. The server's options arrive as JSON (base64url for bytes) and
 * the browser's answer goes back the same way. */
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function credentialJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) { out.response.userHandle = toText(response.userHandle); }
    }
    return out;
  }

  function post(form, url, body) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: body === undefined ? "{}" : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || "The portal refused the passkey."); }
        return data;
      });
    });
  }

  function showError(form, message) {
    var box = form.querySelector(".passkey-error");
    box.textContent = message;
    box.hidden = false;
  }

  function ceremony(form, run) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      form.querySelector(".passkey-error").hidden = true;
      if (!window.PublicKeyCredential) {
        showError(form, "This browser cannot use passkeys.");
        return;
      }
      button.disabled = true;
      run().then(function (data) {
        window.location.assign(data.redirect);
      }).catch(function (error) {
        button.disabled = false;
        showError(form, error && error.name === "NotAllowedError"
          ? "The passkey request was cancelled or timed out."
          : (error && error.message) || "The passkey did not work.");
      });
    });
  }

  var register = document.getElementById("passkey-register");
  if (register) {
    ceremony(register, function () {
      return post(register, register.dataset.optionsUrl).then(function (data) {
        var options = JSON.parse(data.options);
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      }).then(function (credential) {
        var name = register.querySelector("input[name=name]").value;
        return post(register, register.dataset.registerUrl,
          { name: name, credential: credentialJson(credential) });
      });
    });
  }

  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    ceremony(signIn, function () {
      return post(signIn, signIn.dataset.optionsUrl).then(function (data) {
        var options = JSON.parse(data.options);
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      }).then(function (credential) {
        return post(signIn, signIn.dataset.verifyUrl, { credential: credentialJson(credential) });
      });
    });
  }
})();
