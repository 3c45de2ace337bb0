// squall chat client: posts with the XSRF token and receives messages by
// WebSocket when the server offers /chatsocket and the browser has
// window.WebSocket, else by long polling /a/message/updates.
//
// The page's state: chat.cursor is the id of the last message shown (the
// server sends what came after it); chat.transport is "websocket" or
// "longpoll" once receiving works. Add ?transport=longpoll to the page URL
// to skip the WebSocket.
"use strict";

(function () {
  var inbox = document.getElementById("inbox");
  var form = document.getElementById("messageform");
  var input = document.getElementById("message");
  var statusLine = document.getElementById("status");
  var chat = (window.chat = { cursor: null, transport: null, received: 0 });

  // Retry delays after a failure: doubling from the first to the last.
  var FIRST_RETRY_MS = 500;
  var LAST_RETRY_MS = 15000;

  function retryDelay(failures) {
    return Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * Math.pow(2, failures - 1));
  }

  function setStatus(text) {
    statusLine.textContent = text;
  }

  // The XSRF token is the _xsrf cookie's value, sent back in a header.
  function cookie(name) {
    var parts = document.cookie.split(";");
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.indexOf(name + "=") === 0) {
        return decodeURIComponent(part.slice(name.length + 1));
      }
    }
    return "";
  }

  // POST form fields; resolves with the decoded JSON answer, rejects with
  // an Error whose message is the server's explanation.
  function post(url, fields, signal) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-XSRFToken": cookie("_xsrf") },
      body: new URLSearchParams(fields),
      signal: signal,
    }).then(function (response) {
      return response.json().then(
        function (data) {
          if (!response.ok) {
            throw new Error(data.error || response.statusText);
          }
          return data;
        },
        function () {
          throw new Error(response.status + " " + response.statusText);
        }
      );
    });
  }

  function showMessages(messages) {
    var atBottom = inbox.scrollHeight - inbox.scrollTop - inbox.clientHeight < 40;
    for (var i = 0; i < messages.length; i++) {
      var message = messages[i];
      // After a reconnect the server may resend what the page has.
      if (!document.getElementById("m" + message.id)) {
        inbox.insertAdjacentHTML("beforeend", message.html); // escaped by the server
        chat.received += 1;
      }
      chat.cursor = message.id;
    }
    if (atBottom) {
      inbox.scrollTop = inbox.scrollHeight;
    }
  }

  function connected(name) {
    chat.transport = name;
    document.body.setAttribute("data-transport", name);
    setStatus("");
  }

  var longPoll = {
    failures: 0,
    start: function () {
      this.poll();
    },
    poll: function () {
      var self = this;
      if (chat.transport !== "longpoll") {
        connected("longpoll");
      }
      post(inbox.dataset.updatesUrl, { cursor: chat.cursor || "" }).then(
        function (data) {
          self.failures = 0;
          setStatus("");
          showMessages(data.messages);
          self.poll();
        },
        function (error) {
          self.failures += 1;
          var delay = retryDelay(self.failures);
          setStatus(error.message + "; retrying in " + Math.round(delay / 1000) + " s");
          window.setTimeout(function () {
            self.poll();
          }, delay);
        }
      );
    },
  };

  // The add-on: used when the server renders data-socket-url and the
  // socket opens. The server pushes {"messages": [...]} frames; the page
  // never sends on it (posting stays an XSRF-checked POST).
  var webSocket = {
    failures: 0,
    start: function (unavailable) {
      var path = inbox.dataset.socketUrl;
      if (!path || !window.WebSocket) {
        unavailable();
        return;
      }
      var self = this;
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var url = scheme + location.host + path + "?cursor=" + encodeURIComponent(chat.cursor || "");
      var opened = false;
      var socket = new WebSocket(url);
      socket.onopen = function () {
        opened = true;
        self.failures = 0;
        connected("websocket");
      };
      socket.onmessage = function (event) {
        showMessages(JSON.parse(event.data).messages);
      };
      socket.onclose = function () {
        if (!opened) {
          // Never opened: no WebSocket here (or not now). Poll instead.
          unavailable();
          return;
        }
        self.failures += 1;
        var delay = retryDelay(self.failures);
        setStatus("Connection lost; reconnecting in " + Math.round(delay / 1000) + " s");
        window.setTimeout(function () {
          self.start(unavailable);
        }, delay);
      };
    },
  };

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body) {
      return;
    }
    var button = document.getElementById("send");
    button.disabled = true;
    // The message comes back through the transport, in order with the others.
    post(inbox.dataset.newUrl, { body: body }).then(
      function () {
        input.value = "";
        button.disabled = false;
        setStatus("");
        input.focus();
      },
      function (error) {
        button.disabled = false;
        setStatus("Not sent: " + error.message);
      }
    );
  });

  var last = inbox.querySelector(".message:last-child");
  chat.cursor = last ? last.getAttribute("data-id") : null;
  inbox.scrollTop = inbox.scrollHeight;
  var wanted = new URLSearchParams(location.search).get("transport");
  if (wanted === "longpoll") {
    longPoll.start();
  } else {
    webSocket.start(function () {
      longPoll.start();
    });
  }
})();
